"""Languages nativejobs knows: ISO 639-1 code -> English name and Aya's ISO 639-3 code."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["LANGUAGES", "Language", "language"]


class Language(NamedTuple):
    code: str
    name: str
    iso3: str  # the code the Aya Dataset uses in its `language_code` column


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        Language("ar", "Arabic", "arb"), Language("bn", "Bengali", "ben"),
        Language("de", "German", "deu"), Language("en", "English", "eng"),
        Language("es", "Spanish", "spa"), Language("fa", "Persian", "pes"),
        Language("fi", "Finnish", "fin"), Language("fr", "French", "fra"),
        Language("ga", "Irish", "gle"), Language("hi", "Hindi", "hin"),
        Language("id", "Indonesian", "ind"), Language("it", "Italian", "ita"),
        Language("ja", "Japanese", "jpn"), Language("ko", "Korean", "kor"),
        Language("nl", "Dutch", "nld"), Language("pl", "Polish", "pol"),
        Language("pt", "Portuguese", "por"), Language("ru", "Russian", "rus"),
        Language("sw", "Swahili", "swh"), Language("te", "Telugu", "tel"),
        Language("th", "Thai", "tha"), Language("tr", "Turkish", "tur"),
        Language("uk", "Ukrainian", "ukr"), Language("vi", "Vietnamese", "vie"),
        Language("yo", "Yoruba", "yor"), Language("zh", "Chinese", "zho"),
    )
}


def language(code: str) -> Language:
    """Look up a language by ISO 639-1 code. Raises: KeyError if unknown."""
    return LANGUAGES[code]
