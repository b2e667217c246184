"""Answer-matching metrics: SQuAD v1.1 EM/F1, the paper's "include", and MLQA-style F1.

``include`` is the paper's rule as written (PROTOCOL.md, evaluation table: the reference answer is a
substring of the generation): the gold, stripped of surrounding whitespace, occurs verbatim in
the prediction; no case, article or punctuation folding, so gold ``10 %`` is not in ``100``.
``include_normalized`` is the looser variant (both sides SQuAD-normalised first), kept under
its own name for comparison.

SQuAD v1.1 follows the official evaluation script (``evaluate-v1.1.py``, the same code as HF
``evaluate``'s "squad"): lowercase, drop ASCII punctuation, drop English articles, collapse
whitespace; F1 over whitespace tokens. MLQA follows facebookresearch/MLQA
``mlqa_evaluation_v1.py``: drop every Unicode punctuation character, drop the language's
articles, and for Chinese split each CJK ideograph into its own token (``mixed_segmentation``).
All per-gold scores take the max over gold answers.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

__all__ = [
    "include",
    "include_normalized",
    "max_over_golds",
    "mean",
    "mlqa_f1",
    "mlqa_normalize",
    "mlqa_tokens",
    "squad_exact_match",
    "squad_f1",
    "squad_normalize",
]

_SQUAD_ARTICLES = re.compile(r"\b(a|an|the)\b")
# MLQA's article lists; languages it does not list (ru, ...) have none removed.
_MLQA_ARTICLES: dict[str, re.Pattern[str]] = {
    "en": re.compile(r"\b(a|an|the)\b"),
    "es": re.compile(r"\b(un|una|unos|unas|el|la|los|las)\b"),
    "de": re.compile(r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b"),
    "vi": re.compile(r"\b(của|là|cái|chiếc|những)\b"),
}
_MIXED_SEGMENTATION_LANGS = frozenset({"zh"})
_CJK = re.compile(r"[\u4e00-\u9fa5]")  # MLQA's range, kept as is for comparability
_ASCII_PUNCT = frozenset(string.punctuation)


def squad_normalize(text: str) -> str:
    """Normalise an answer as the official SQuAD v1.1 script does."""
    text = "".join(ch for ch in text.lower() if ch not in _ASCII_PUNCT)
    return " ".join(_SQUAD_ARTICLES.sub(" ", text).split())


def squad_exact_match(prediction: str, gold: str) -> float:
    """1.0 if the SQuAD-normalised strings are equal, else 0.0."""
    return float(squad_normalize(prediction) == squad_normalize(gold))


def squad_f1(prediction: str, gold: str) -> float:
    """Bag-of-whitespace-tokens F1 after SQuAD normalisation."""
    return _token_f1(squad_normalize(prediction).split(), squad_normalize(gold).split())


def _is_mlqa_punct(ch: str) -> bool:
    # MLQA: every code point of Unicode category P*, plus ASCII string.punctuation.
    return ch in _ASCII_PUNCT or unicodedata.category(ch).startswith("P")


def mlqa_tokens(text: str, language: str) -> list[str]:
    """Tokens of an MLQA-normalised answer (each CJK ideograph is one token for ``zh``)."""
    text = "".join(ch for ch in text.lower() if not _is_mlqa_punct(ch))
    articles = _MLQA_ARTICLES.get(language)
    if articles is not None:
        text = articles.sub(" ", text)
    if language not in _MIXED_SEGMENTATION_LANGS:
        return text.split()
    return _mixed_segmentation(text)


def _mixed_segmentation(text: str) -> list[str]:
    # A CJK ideograph or punctuation mark is a token; other runs are whitespace-split.
    tokens: list[str] = []
    run = ""
    for ch in text:
        if _CJK.match(ch) or _is_mlqa_punct(ch):
            tokens.extend(run.split())
            tokens.append(ch)
            run = ""
        else:
            run += ch
    tokens.extend(run.split())
    return [t for t in tokens if t.strip()]


def mlqa_normalize(text: str, language: str) -> str:
    """Normalise an answer as MLQA's evaluation script does, tokens joined by spaces."""
    return " ".join(mlqa_tokens(text, language))


def mlqa_f1(prediction: str, gold: str, language: str) -> float:
    """Bag-of-tokens F1 with MLQA normalisation and tokenisation."""
    return _token_f1(mlqa_tokens(prediction, language), mlqa_tokens(gold, language))


def include(prediction: str, gold: str) -> float:
    """The paper's "include": 1.0 if ``gold.strip()`` occurs verbatim in ``prediction``.

    Case, punctuation and articles count as written; a gold that is only whitespace matches
    nothing (the empty string would be "included" in every prediction).
    """
    needle = gold.strip()
    return float(bool(needle) and needle in prediction)


def include_normalized(prediction: str, gold: str) -> float:
    """1.0 if the SQuAD-normalised gold occurs in the SQuAD-normalised prediction.

    Looser than the paper's ``include``: ``The Broncos`` includes ``broncos``, and gold ``10 %``
    (normalised ``10``) is found in ``100``.
    """
    normalized_gold = squad_normalize(gold)
    return float(bool(normalized_gold) and normalized_gold in squad_normalize(prediction))


def _token_f1(prediction: Sequence[str], gold: Sequence[str]) -> float:
    same = sum((Counter(prediction) & Counter(gold)).values())
    if same == 0:
        return 0.0
    precision = same / len(prediction)
    recall = same / len(gold)
    return 2 * precision * recall / (precision + recall)


def max_over_golds(
    metric: Callable[[str, str], float], prediction: str, golds: Iterable[str]
) -> float:
    """Return the best score of ``prediction`` against any gold (0.0 when there are none)."""
    return max((metric(prediction, gold) for gold in golds), default=0.0)


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean.

    Raises:
        ValueError: If ``values`` is empty.
    """
    if not values:
        raise ValueError("mean of no values")
    return sum(values) / len(values)
