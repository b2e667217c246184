"""Plumbing shared by the scorers: cutting completions and averaging per-item records."""

from __future__ import annotations

from collections.abc import Sequence

from nativejobs.benchmarks._types import ScoredBenchmark
from nativejobs.benchmarks.metrics import mean

__all__ = ["check_same_length", "cut_at_stop", "summarize"]


def cut_at_stop(completion: str, stop: Sequence[str]) -> str:
    """Cut a completion before its first stop sequence, as lm-eval's ``generate_until`` does.

    Engines usually stop there already; this makes scoring independent of the engine.
    """
    for sequence in stop:
        if sequence:
            completion = completion.split(sequence, 1)[0]
    return completion


def check_same_length(items: Sequence[object], answers: Sequence[object], what: str) -> None:
    """Check that there is exactly one model answer per item.

    Raises:
        ValueError: If the counts differ or there are no items (a bug in the caller).
    """
    if not items:
        raise ValueError("no items to score")
    if len(items) != len(answers):
        raise ValueError(f"{len(items)} items but {len(answers)} {what}; pass one per item")


def summarize(records: list[dict[str, object]], metric_names: Sequence[str]) -> ScoredBenchmark:
    """Average each metric over the per-item records.

    Args:
        records: One dict per item, holding a float under every name in ``metric_names``.
        metric_names: The metrics to average.

    Returns:
        The scored benchmark.
    """
    metrics = {name: mean([_as_float(r[name]) for r in records]) for name in metric_names}
    return ScoredBenchmark(metrics=metrics, n=len(records), records=records)


def _as_float(value: object) -> float:
    if not isinstance(value, (int, float)):
        raise TypeError(f"metric value {value!r} is not a number")
    return float(value)
