"""The value types the evaluate step exchanges with the benchmark layer."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ChoiceItem", "GenerationItem", "ScoredBenchmark"]


@dataclass(frozen=True)
class GenerationItem:
    """One prompt to complete greedily, with the gold answers to score the completion against.

    Attributes:
        id: Stable item id, unique within the benchmark file.
        prompt: The full prompt, few-shot examples included.
        golds: Gold answers as strings.
        stop: Stop sequences; the completion is cut at the first one.
        max_new_tokens: Generation cap.
        language: ISO 639-1 code; scoring needs it (MLQA articles and segmentation, MGSM's
            language-specific answer phrase).
    """

    id: str
    prompt: str
    golds: tuple[str, ...]
    stop: tuple[str, ...]
    max_new_tokens: int
    language: str


@dataclass(frozen=True)
class ChoiceItem:
    """One question scored by the log-likelihood of each continuation given the context.

    Attributes:
        id: Stable item id, unique within the benchmark file.
        context: The full prompt, few-shot examples included.
        choices: Continuations to score, e.g. ``(" A", " B", " C", " D")``.
        gold: Index of the correct continuation in ``choices``.
    """

    id: str
    context: str
    choices: tuple[str, ...]
    gold: int


@dataclass(frozen=True)
class ScoredBenchmark:
    """Scores of one benchmark run.

    Attributes:
        metrics: Metric name -> mean over items (0..1).
        n: Number of items scored.
        records: One dict per item: id, prompt or context, prediction, golds and the item's
            value for every metric.
    """

    metrics: dict[str, float]
    n: int
    records: list[dict[str, object]] = field(default_factory=list)
