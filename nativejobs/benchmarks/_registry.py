"""The registry of benchmark kinds and the three entry points the evaluate step calls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol, overload

from nativejobs.benchmarks import extractive_qa, math_cot, multiple_choice, open_qa
from nativejobs.benchmarks._types import ChoiceItem, GenerationItem, ScoredBenchmark
from nativejobs.errors import StepInputError

__all__ = ["KINDS", "load_items", "score_choices", "score_generations"]


class _Loader(Protocol):
    def __call__(
        self, *, path: str, language: str, shots: int, limit: int | None, dev_path: str | None
    ) -> list[GenerationItem] | list[ChoiceItem]: ...


_GenerationScorer = Callable[[list[GenerationItem], list[str]], ScoredBenchmark]


@dataclass(frozen=True)
class _Kind:
    """A benchmark kind: how to load its items and, for generation kinds, how to score them."""

    name: str
    load: _Loader
    score_generations: _GenerationScorer | None  # None: scored by log-likelihood


_REGISTRY: dict[str, _Kind] = {}


def _register(kind: _Kind) -> None:
    if kind.name in _REGISTRY:
        raise ValueError(f"benchmark kind {kind.name!r} is registered twice")
    _REGISTRY[kind.name] = kind


_register(_Kind("extractive_qa", extractive_qa.load, extractive_qa.score))
_register(_Kind("math_cot", math_cot.load, math_cot.score))
_register(_Kind("multiple_choice", multiple_choice.load, None))
_register(_Kind("open_qa", open_qa.load, open_qa.score))  # no metric here: the judge step scores

KINDS: tuple[str, ...] = tuple(_REGISTRY)


def _kind(name: str) -> _Kind:
    if name not in _REGISTRY:
        raise StepInputError(f"unknown benchmark kind {name!r}; known kinds: {', '.join(KINDS)}")
    return _REGISTRY[name]


@overload
def load_items(
    kind: Literal["extractive_qa", "math_cot", "open_qa"],
    *,
    path: str,
    language: str,
    shots: int,
    limit: int | None,
    dev_path: str | None = None,
) -> list[GenerationItem]: ...
@overload
def load_items(
    kind: Literal["multiple_choice"],
    *,
    path: str,
    language: str,
    shots: int,
    limit: int | None,
    dev_path: str | None = None,
) -> list[ChoiceItem]: ...
@overload
def load_items(
    kind: str,
    *,
    path: str,
    language: str,
    shots: int,
    limit: int | None,
    dev_path: str | None = None,
) -> list[GenerationItem] | list[ChoiceItem]: ...
def load_items(
    kind: str,
    *,
    path: str,
    language: str,
    shots: int,
    limit: int | None,
    dev_path: str | None = None,
) -> list[GenerationItem] | list[ChoiceItem]:
    """Read a benchmark file in its upstream format and build the model requests.

    Args:
        kind: One of ``KINDS``.
        path: The test file.
        language: ISO 639-1 code of the benchmark's language.
        shots: Number of few-shot examples, taken in order from ``dev_path``.
        limit: Keep only the first ``limit`` items in file order; None keeps all.
        dev_path: File with the few-shot examples; needed when ``shots`` > 0.

    Returns:
        ``GenerationItem`` s for generation kinds, ``ChoiceItem`` s for ``multiple_choice``.

    Raises:
        StepInputError: For an unknown kind, bad ``shots``/``limit``, an unsupported language,
            or a missing or malformed file (the message names the file).
    """
    loader = _kind(kind).load
    if shots < 0:
        raise StepInputError(f"benchmark kind {kind!r}: shots is {shots}; use 0 or more")
    if limit is not None and limit < 1:
        raise StepInputError(f"benchmark kind {kind!r}: limit is {limit}; use 1 or more, or None")
    return loader(path=path, language=language, shots=shots, limit=limit, dev_path=dev_path)


def score_generations(
    kind: str, items: list[GenerationItem], outputs: list[str]
) -> ScoredBenchmark:
    """Score greedy completions of generation items.

    Args:
        kind: A generation kind (``extractive_qa``, ``math_cot`` or ``open_qa``).
        items: Items from ``load_items``.
        outputs: One raw completion per item, in the same order.

    Returns:
        Mean metrics and per-item records.

    Raises:
        StepInputError: For an unknown kind, or one scored by log-likelihood.
        ValueError: If the counts differ or there are no items.
    """
    scorer = _kind(kind).score_generations
    if scorer is None:
        raise StepInputError(
            f"benchmark kind {kind!r} is scored by log-likelihood; use score_choices"
        )
    return scorer(items, outputs)


def score_choices(items: list[ChoiceItem], loglikelihoods: list[list[float]]) -> ScoredBenchmark:
    """Score choice items from the log-likelihood of each of their continuations.

    Args:
        items: Items from ``load_items("multiple_choice", ...)``.
        loglikelihoods: Per item, one log-likelihood per choice, in choice order.

    Returns:
        Mean ``accuracy`` and per-item records.

    Raises:
        ValueError: If the counts differ or there are no items.
    """
    return multiple_choice.score(items, loglikelihoods)
