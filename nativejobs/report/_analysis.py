"""The study's analysis from tidy records (and, when there are any, per-item results).

- ΔS per cell (native − mean of the reference conditions) with a paired bootstrap CI over the
  items every condition answered, McNemar's test per reference condition for 0/1 metrics, and
  whether the gap is inside the noise (its CI contains 0).
- Pearson r(ΔS, S_native) per arm × benchmark × metric over the (model, language) points.
- Round trip vs single pass: each round-trip condition against the mean of the reference
  conditions (with a paired CI), on the native benchmarks.
- The arms side by side: each condition's score and ΔS with one column per arm.
- Completeness of the grid.

Without per-item results (imported records) the CIs say ``unavailable``; nothing is made up.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from statistics import fmean
from typing import Any

from nativejobs.report._completeness import CellStatus, record_completeness
from nativejobs.report._stats import EXACT_BELOW, discordant_pairs, mcnemar, paired_bootstrap_ci, pearson
from nativejobs.report._tables import CELL, Record, gaps, reference_conditions

__all__ = ["Analysis", "ArmRow", "Correlation", "Gap", "ItemKey", "Items", "McNemarTest", "Point",
           "RoundTrip", "analyze"]

ItemKey = tuple[str, str, str, str, str]  # (model, arm, language, condition, benchmark)
Items = Mapping[ItemKey, Sequence[Mapping[str, Any]]]  # per-item rows: id + metric values
ANALYSIS_FORMAT_VERSION = 1
NO_ITEMS = "unavailable: no per-item results"


@dataclass(frozen=True)
class McNemarTest:
    """Native against one reference condition on 0/1 outcomes."""

    condition: str
    only_native: int  # items right under native only
    only_reference: int  # items right under the reference condition only
    statistic: float
    p: float
    exact: bool


@dataclass(frozen=True)
class Paired:
    """A paired comparison of two conditions over the items both answered."""

    ci_low: float | None = None
    ci_high: float | None = None
    n_items: int | None = None
    ci: str = NO_ITEMS  # "paired bootstrap" or why there is no interval
    inside_noise: bool | None = None  # the CI contains 0
    mcnemar: tuple[McNemarTest, ...] = ()


@dataclass(frozen=True)
class Gap:
    """ΔS of one cell."""

    model: str
    arm: str
    language: str
    benchmark: str
    metric: str
    native_condition: str
    reference: tuple[str, ...]
    native: float
    translated_mean: float
    delta: float
    paired: Paired = field(default_factory=Paired)


@dataclass(frozen=True)
class Point:
    model: str
    language: str
    native: float
    delta: float


@dataclass(frozen=True)
class Correlation:
    """r(ΔS, S_native) over one arm × benchmark × metric's (model, language) points."""

    arm: str
    benchmark: str
    metric: str
    r: float | None
    p: float | None
    n: int
    points: tuple[Point, ...]


@dataclass(frozen=True)
class RoundTrip:
    """A round-trip condition against single-pass translation (the reference mean)."""

    model: str
    arm: str
    language: str
    benchmark: str
    metric: str
    condition: str
    round_trip: float
    single_pass: float | None
    native: float | None
    delta: float | None  # round trip − single pass
    native_minus_round_trip: float | None
    paired: Paired = field(default_factory=Paired)


@dataclass(frozen=True)
class ArmRow:
    """One condition's score (or ΔS) per arm, for one model × language × benchmark × metric."""

    model: str
    language: str
    benchmark: str
    metric: str
    row: str  # a condition name, or "ΔS"
    values: dict[str, float | None]


@dataclass(frozen=True)
class Analysis:
    """Everything ``analysis.json`` holds; the md and HTML reports render it."""

    kinds: dict[str, str]
    reference: tuple[str, ...]
    conditions: tuple[str, ...]
    arms: tuple[str, ...]
    native_benchmarks: tuple[str, ...] | None
    confidence: float
    n_resamples: int
    seed: int
    has_items: bool
    gaps: tuple[Gap, ...]
    correlations: tuple[Correlation, ...]
    round_trip: tuple[RoundTrip, ...]
    arm_rows: tuple[ArmRow, ...]
    completeness: tuple[CellStatus, ...]

    def to_json(self) -> dict[str, Any]:
        return {"format_version": ANALYSIS_FORMAT_VERSION, **asdict(self)}


@dataclass(frozen=True)
class _Options:
    n_resamples: int
    seed: int
    confidence: float


class _ItemIndex:
    """Per-item metric values by item key and metric: {id: value}, built once per pair."""

    def __init__(self, items: Items) -> None:
        self.items = items
        self._cache: dict[tuple[ItemKey, str], dict[str, float] | None] = {}

    def values(self, key: ItemKey, metric: str) -> dict[str, float] | None:
        if (key, metric) not in self._cache:
            rows = self.items.get(key)
            values = None if rows is None else {
                str(r["id"]): float(r[metric]) for r in rows
                if "id" in r and isinstance(r.get(metric), (int, float))}
            self._cache[key, metric] = values or None
        return self._cache[key, metric]


def analyze(records: Sequence[Record], kinds: Mapping[str, str], *, items: Items | None = None,
            reference: Sequence[str] | None = None, native_benchmarks: Sequence[str] | None = None,
            n_resamples: int = 10_000, seed: int = 0, confidence: float = 0.95,
            completeness: Sequence[CellStatus] | None = None) -> Analysis:
    """The analysis of ``records`` (tidy result records).

    Args:
        records: Flat result records (model, language, condition, arm, benchmark, metric,
            score, n).
        kinds: Condition name → native, translated or round_trip.
        items: Per-item rows (``id`` and a value per metric) by (model, arm, language,
            condition, benchmark); None when there are none (CIs are then unavailable).
        reference: Conditions ΔS subtracts; None = every translated condition.
        native_benchmarks: Benchmarks written natively, where round trip vs single pass is
            reported; None = every benchmark.
        n_resamples: Bootstrap resamples per CI.
        seed: Bootstrap seed; the same inputs give the same CIs.
        confidence: CI coverage.
        completeness: Cell states; None = derived from the records' own grid.

    Raises:
        ReportInputError: If ``reference`` names an unknown or native condition.
    """
    ref = tuple(reference_conditions(kinds, reference))
    opts = _Options(n_resamples, seed, confidence)
    index = _ItemIndex(items) if items else None
    gap_rows = tuple(_gap(g, index, opts) for g in gaps(records, kinds, reference=ref))
    arms = tuple(dict.fromkeys(r["arm"] for r in records))
    return Analysis(
        kinds=dict(kinds), reference=ref,
        conditions=tuple(c for c in kinds if any(r["condition"] == c for r in records)),
        arms=arms, native_benchmarks=None if native_benchmarks is None else tuple(native_benchmarks),
        confidence=confidence, n_resamples=n_resamples, seed=seed, has_items=index is not None,
        gaps=gap_rows, correlations=_correlations(gap_rows),
        round_trip=_round_trips(records, kinds, ref, native_benchmarks, index, opts),
        arm_rows=_arm_rows(records, gap_rows, arms),
        completeness=tuple(record_completeness(records) if completeness is None else completeness))


def _gap(g: Record, index: _ItemIndex | None, opts: _Options) -> Gap:
    cell = {k: g[k] for k in CELL}
    refs = tuple(g["reference"])
    paired = _paired(index, _key(cell, g["native_condition"]), refs, cell, opts)
    return Gap(**cell, native_condition=g["native_condition"], reference=refs,
               native=g["native"], translated_mean=g["translated_mean"], delta=g["delta"],
               paired=paired)


def _key(cell: Mapping[str, Any], condition: str) -> ItemKey:
    return (cell["model"], cell["arm"], cell["language"], condition, cell["benchmark"])


def _paired(index: _ItemIndex | None, key: ItemKey, refs: Sequence[str],
            cell: Mapping[str, Any], opts: _Options) -> Paired:
    """CI of mean(key) − mean(mean over refs) over the items every side has, and McNemar."""
    if index is None:
        return Paired()
    metric = cell["metric"]
    a = index.values(key, metric)
    bs = {c: index.values(_key(cell, c), metric) for c in refs}
    lacking = [key[3]] * (a is None) + [c for c, b in bs.items() if b is None]
    if a is None or lacking:
        return Paired(ci=f"unavailable: no per-item {metric} for {', '.join(lacking)}")
    ids = [i for i in a if all(i in b for b in bs.values() if b is not None)]
    if not ids:
        return Paired(ci="unavailable: no item ids in common")
    xa = [a[i] for i in ids]
    xb = [fmean(b[i] for b in bs.values() if b is not None) for i in ids]
    low, high = paired_bootstrap_ci(xa, xb, n_resamples=opts.n_resamples, seed=opts.seed,
                                    confidence=opts.confidence)
    tests = tuple(_mcnemar(c, xa, [b[i] for i in ids]) for c, b in bs.items()
                  if b is not None and _is_binary(xa) and _is_binary(b[i] for i in ids))
    return Paired(low, high, len(ids), "paired bootstrap", low <= 0.0 <= high, tests)


def _is_binary(values: Any) -> bool:
    return all(v in (0.0, 1.0) for v in values)


def _mcnemar(condition: str, a: list[float], b: list[float]) -> McNemarTest:
    only_a, only_b = discordant_pairs(a, b)
    statistic, p = mcnemar(a, b)
    return McNemarTest(condition, only_a, only_b, statistic, p, only_a + only_b < EXACT_BELOW)


def _correlations(gap_rows: Sequence[Gap]) -> tuple[Correlation, ...]:
    groups: dict[tuple[str, str, str], list[Point]] = defaultdict(list)
    for g in gap_rows:
        groups[g.arm, g.benchmark, g.metric].append(Point(g.model, g.language, g.native, g.delta))
    out = []
    for (arm, bench, metric), points in groups.items():
        r, p, n = pearson([pt.delta for pt in points], [pt.native for pt in points])
        out.append(Correlation(arm, bench, metric, _finite(r), _finite(p), n, tuple(points)))
    return tuple(out)


def _finite(x: float) -> float | None:
    return None if math.isnan(x) else x


def _scores(records: Sequence[Record]) -> dict[tuple[str, ...], dict[str, float]]:
    """Cell (model, arm, language, benchmark, metric) → condition → score."""
    cells: dict[tuple[str, ...], dict[str, float]] = defaultdict(dict)
    for r in records:
        cells[tuple(r[k] for k in CELL)][r["condition"]] = r["score"]
    return cells


def _round_trips(records: Sequence[Record], kinds: Mapping[str, str], ref: Sequence[str],
                 native_benchmarks: Sequence[str] | None, index: _ItemIndex | None,
                 opts: _Options) -> tuple[RoundTrip, ...]:
    round_trip = [c for c, k in kinds.items() if k == "round_trip"]
    out = []
    for cell_values, scores in sorted(_scores(records).items()):
        cell = dict(zip(CELL, cell_values, strict=True))
        if native_benchmarks is not None and cell["benchmark"] not in native_benchmarks:
            continue
        refs = [c for c in ref if c in scores]
        single = fmean(scores[c] for c in refs) if refs else None
        native = next((s for c, s in scores.items() if kinds.get(c) == "native"), None)
        for rtt in (c for c in round_trip if c in scores):
            paired = _paired(index, _key(cell, rtt), refs, cell, opts) if refs else Paired(
                ci="unavailable: no single-pass condition")
            out.append(RoundTrip(
                **cell, condition=rtt, round_trip=scores[rtt], single_pass=single, native=native,
                delta=None if single is None else scores[rtt] - single,
                native_minus_round_trip=None if native is None else native - scores[rtt],
                paired=paired))
    return tuple(out)


def _arm_rows(records: Sequence[Record], gap_rows: Sequence[Gap],
              arms: Sequence[str]) -> tuple[ArmRow, ...]:
    """Scores and ΔS with a column per arm; empty with a single arm (nothing to compare)."""
    if len(arms) < 2:
        return ()
    table: dict[tuple[str, ...], dict[str, float | None]] = defaultdict(dict)
    for r in records:
        table[r["model"], r["language"], r["benchmark"], r["metric"], r["condition"]][r["arm"]] = r["score"]
    for g in gap_rows:
        table[g.model, g.language, g.benchmark, g.metric, "ΔS"][g.arm] = g.delta
    return tuple(ArmRow(*key, values={a: values.get(a) for a in arms})
                 for key, values in sorted(table.items(), key=lambda kv: (kv[0][:4], kv[0][4] == "ΔS")))
