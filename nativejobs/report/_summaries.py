"""The paper's summary views over the per-cell analysis. Pure functions, plain Python.

- ``delta_summaries``: mean ΔS per benchmark × metric × arm, and how many models (by their
  language mean) and how many (model, language) points have ΔS > 0.
- ``model_means`` and ``model_correlations``: each model's scores averaged over its languages
  (the paper's per-model figures and tables average es/ru/zh), and r(ΔS, S_native) over those
  model means, beside r over the (model, language) points.
- ``round_trip_summaries``: per round-trip system, mean RT − SP and how many models (and points)
  improve with the round trip (the paper's "6 of 8 models" counts).
- ``mt_vs_ht``: machine-translated (Okapi) and human-translated (MMMLU) MMLU side by side per
  model and language, each with its ΔS (the paper's Table 3 shape).

A count "improves" means strictly greater than 0 (a tie is not a gain).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from statistics import fmean
from typing import TYPE_CHECKING

from nativejobs.report._stats import pearson
from nativejobs.report._tables import Record

if TYPE_CHECKING:
    from nativejobs.report._analysis import Gap, RoundTrip

__all__ = [
    "HT_MMLU",
    "MT_MMLU",
    "Correlation",
    "DeltaSummary",
    "ModelMean",
    "MtHt",
    "Point",
    "RoundTripSummary",
    "correlation",
    "delta_summaries",
    "model_correlations",
    "model_means",
    "mt_vs_ht",
    "round_trip_summaries",
]

# Benchmark kinds (catalog) and the example spec's names of the two MMLU variants.
MT_MMLU = ("okapi_mmlu", "mt-mmlu", "mt_mmlu")
HT_MMLU = ("mmmlu", "ht-mmlu", "ht_mmlu")


@dataclass(frozen=True)
class Point:
    model: str
    language: str  # one language, or the languages a model mean averages ("es+ru+zh")
    native: float
    delta: float


@dataclass(frozen=True)
class Correlation:
    """r(ΔS, S_native) over one arm × benchmark × metric's points."""

    arm: str
    benchmark: str
    metric: str
    r: float | None
    p: float | None
    n: int
    points: tuple[Point, ...]


@dataclass(frozen=True)
class DeltaSummary:
    """Mean ΔS of one benchmark × metric × arm and how often native wins."""

    benchmark: str
    metric: str
    arm: str
    mean_delta: float
    points: int  # (model, language) points
    points_positive: int
    models: int
    models_positive: int  # models whose language-mean ΔS > 0


@dataclass(frozen=True)
class ModelMean:
    """One model's scores averaged over its languages, for one arm × benchmark × metric."""

    model: str
    arm: str
    benchmark: str
    metric: str
    languages: tuple[str, ...]
    native: float
    translated_mean: float
    delta: float


@dataclass(frozen=True)
class RoundTripSummary:
    """One round-trip system against its single pass, over the models and points it has."""

    arm: str
    benchmark: str
    metric: str
    condition: str
    single_pass: str  # the partner, or "mean of a, b" when it has none
    is_paired: bool
    mean_delta: float | None  # mean RT − SP over the points
    points: int
    points_improved: int
    models: int
    models_improved: int  # models whose language-mean RT − SP > 0


@dataclass(frozen=True)
class MtHt:
    """Machine- and human-translated MMLU for one model × arm × language × metric."""

    model: str
    arm: str
    language: str
    metric: str
    mt_benchmark: str
    ht_benchmark: str
    mt: dict[str, float]  # condition → score
    ht: dict[str, float]
    mt_delta: float | None
    ht_delta: float | None


def correlation(arm: str, benchmark: str, metric: str, points: Sequence[Point]) -> Correlation:
    r, p, n = pearson([pt.delta for pt in points], [pt.native for pt in points])
    return Correlation(arm, benchmark, metric, _finite(r), _finite(p), n, tuple(points))


def _finite(x: float) -> float | None:
    return None if math.isnan(x) else x


def model_means(gaps: Sequence[Gap]) -> tuple[ModelMean, ...]:
    """Each model's gaps averaged over its languages, per arm × benchmark × metric."""
    groups: dict[tuple[str, str, str, str], list[Gap]] = defaultdict(list)
    for g in gaps:
        groups[g.model, g.arm, g.benchmark, g.metric].append(g)
    return tuple(ModelMean(*key, languages=tuple(g.language for g in rows),
                           native=fmean(g.native for g in rows),
                           translated_mean=fmean(g.translated_mean for g in rows),
                           delta=fmean(g.delta for g in rows))
                 for key, rows in groups.items())


def model_correlations(means: Sequence[ModelMean]) -> tuple[Correlation, ...]:
    """r(ΔS, S_native) over the models' language means, per arm × benchmark × metric."""
    groups: dict[tuple[str, str, str], list[Point]] = defaultdict(list)
    for m in means:
        groups[m.arm, m.benchmark, m.metric].append(
            Point(m.model, "+".join(m.languages), m.native, m.delta))
    return tuple(correlation(*key, points) for key, points in groups.items())


def delta_summaries(gaps: Sequence[Gap]) -> tuple[DeltaSummary, ...]:
    """Mean ΔS and the counts of models and points with ΔS > 0, per benchmark × metric × arm."""
    groups: dict[tuple[str, str, str], list[Gap]] = defaultdict(list)
    for g in gaps:
        groups[g.benchmark, g.metric, g.arm].append(g)
    out = []
    for key, rows in groups.items():
        per_model = _model_means((g.model, g.delta) for g in rows)
        out.append(DeltaSummary(*key, mean_delta=fmean(g.delta for g in rows), points=len(rows),
                                points_positive=sum(g.delta > 0 for g in rows),
                                models=len(per_model),
                                models_positive=sum(d > 0 for d in per_model.values())))
    return tuple(out)


def _model_means(values: Iterable[tuple[str, float]]) -> dict[str, float]:
    by_model: dict[str, list[float]] = defaultdict(list)
    for model, value in values:
        by_model[model].append(value)
    return {m: fmean(v) for m, v in by_model.items()}


def round_trip_summaries(rows: Sequence[RoundTrip]) -> tuple[RoundTripSummary, ...]:
    """Per arm × benchmark × metric × round-trip condition: mean RT − SP, models that improve."""
    groups: dict[tuple[str, ...], list[RoundTrip]] = defaultdict(list)
    for t in rows:
        if t.delta is not None:
            against = (t.single_pass_conditions[0] if t.is_paired
                       else "mean of " + ", ".join(t.single_pass_conditions))
            groups[t.arm, t.benchmark, t.metric, t.condition, against].append(t)
    out = []
    for (arm, bench, metric, cond, against), trips in groups.items():
        deltas = [t.delta for t in trips if t.delta is not None]
        per_model = _model_means((t.model, t.delta) for t in trips if t.delta is not None)
        out.append(RoundTripSummary(
            arm, bench, metric, cond, against, is_paired=trips[0].is_paired,
            mean_delta=fmean(deltas), points=len(deltas), points_improved=sum(d > 0 for d in deltas),
            models=len(per_model), models_improved=sum(d > 0 for d in per_model.values())))
    return tuple(out)


def mmlu_benchmarks(records: Sequence[Record]) -> tuple[str, str] | None:
    """(machine-translated, human-translated) MMLU names found in the records, by the records'
    ``kind`` (okapi_mmlu, mmmlu) or their benchmark name; None unless exactly one of each."""
    found: dict[str, set[str]] = {"mt": set(), "ht": set()}
    for r in records:
        labels = {str(r.get("kind") or ""), r["benchmark"]}
        if labels & set(MT_MMLU):
            found["mt"].add(r["benchmark"])
        elif labels & set(HT_MMLU):
            found["ht"].add(r["benchmark"])
    if len(found["mt"]) == 1 and len(found["ht"]) == 1:
        return next(iter(found["mt"])), next(iter(found["ht"]))
    return None


def mt_vs_ht(records: Sequence[Record], kinds: Mapping[str, str], reference: Sequence[str],
             names: tuple[str, str] | None = None) -> tuple[MtHt, ...]:
    """Okapi vs MMMLU side by side per model × arm × language × metric (both metrics' names
    must agree); empty when the records lack either benchmark."""
    found = names or mmlu_benchmarks(records)
    if found is None:
        return ()
    mt, ht = found
    scores: dict[tuple[str, str, str, str], dict[str, dict[str, float]]] = defaultdict(
        lambda: {"mt": {}, "ht": {}})
    for r in (r for r in records if r["benchmark"] in found):
        side = "mt" if r["benchmark"] == mt else "ht"
        scores[r["model"], r["arm"], r["language"], r["metric"]][side][r["condition"]] = r["score"]
    return tuple(MtHt(*key, mt_benchmark=mt, ht_benchmark=ht, mt=sides["mt"], ht=sides["ht"],
                      mt_delta=_delta(sides["mt"], kinds, reference),
                      ht_delta=_delta(sides["ht"], kinds, reference))
                 for key, sides in sorted(scores.items()))


def _delta(scores: Mapping[str, float], kinds: Mapping[str, str],
           reference: Sequence[str]) -> float | None:
    native = [s for c, s in scores.items() if kinds.get(c) == "native"]
    refs = [scores[c] for c in reference if c in scores]
    return native[0] - fmean(refs) if native and refs else None
