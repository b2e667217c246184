"""Quality checks on every translated field: the result's language and its length.

Flags (a field can carry several):

- ``empty``: the source has letters, the translation is blank.
- ``language``: language identification of the translation's prose (code blocks left out) names
  another language than the target. Only texts of at least ``MIN_LETTERS`` letters are judged,
  and a detector unsure of a text does not flag it.
- ``length_ratio``: the translation's length over the source's, each divided by its language's
  typical density (characters per English character), lies outside the spec's bounds. Only
  sources of at least ``MIN_CHARS`` characters are judged.

Language identification is lingua (``lingua-language-detector``): its n-gram models ship inside
the wheel (nothing to download), it is deterministic, it covers every language nativejobs knows
(Irish included, which langdetect lacks), and it is accurate on short texts, which instructions
often are. It is asked to choose among the languages nativejobs knows.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from nativejobs.languages import LANGUAGES
from nativejobs.translation.config import QualityConfig
from nativejobs.translation.segments import has_letters, prose

__all__ = ["DENSITY", "FLAGS", "QualityChecker", "identify_language"]

FLAGS = ("empty", "language", "length_ratio")
MIN_LETTERS = 20
MIN_CHARS = 20
_ID_CHARS = 2000  # more text than this does not change lingua's answer, only its time
# Characters per English character. zh is the median over the authors' released Google pivots
# (aya_native_zh_*_pivot.en.json vs native zh: 0.28; es 1.05, ru 0.97, de 1.1, fi 1.0, ga 1.08,
# hi 0.98 there, so alphabetic scripts count as 1); ja and ko are estimates of the same kind.
DENSITY: dict[str, float] = {"zh": 0.28, "ja": 0.4, "ko": 0.45}


@lru_cache(maxsize=1)
def _detector():  # type: ignore[no-untyped-def]
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    languages = []
    for code in LANGUAGES:
        iso = getattr(IsoCode639_1, code.upper(), None)
        if iso is not None:
            languages.append(Language.from_iso_code_639_1(iso))
    return LanguageDetectorBuilder.from_languages(*languages).build()


def identify_language(text: str) -> str | None:
    """The ISO 639-1 code of ``text``'s language, or None when the detector is unsure."""
    found = _detector().detect_language_of(text[:_ID_CHARS])
    return None if found is None else found.iso_code_639_1.name.lower()


class QualityChecker:
    """Checks translations from ``src`` into ``tgt`` against the spec's bounds.

    ``identify`` is the language identifier (a seam for tests); lingua by default.
    """

    def __init__(self, cfg: QualityConfig, src: str, tgt: str, *,
                 identify: Callable[[str], str | None] = identify_language) -> None:
        self.cfg, self.src, self.tgt, self.identify = cfg, src, tgt, identify

    def check(self, source: str, translation: str) -> tuple[str, ...]:
        """The flags one translated field earns (empty tuple: it passed)."""
        if not has_letters(source):
            return ()
        if not translation.strip():
            return ("empty",)
        flags: list[str] = []
        text = prose(translation).strip()
        if self.cfg.language_id and sum(ch.isalpha() for ch in text) >= MIN_LETTERS:
            found = self.identify(text)
            if found is not None and found != self.tgt:
                flags.append("language")
        src_len = len(prose(source).strip())
        if src_len >= MIN_CHARS:
            ratio = (len(text) / DENSITY.get(self.tgt, 1.0)) / (src_len / DENSITY.get(self.src, 1.0))
            if not self.cfg.min_length_ratio <= ratio <= self.cfg.max_length_ratio:
                flags.append("length_ratio")
        return tuple(flags)
