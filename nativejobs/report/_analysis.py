"""The study's analysis from tidy records (and, when there are any, per-item results).

- ΔS per cell (native − mean of the reference conditions) with a paired bootstrap CI over the
  items every condition answered, McNemar's test per reference condition for 0/1 metrics, and
  whether the gap is inside the noise (its CI contains 0).
- Pearson r(ΔS, S_native) per arm × benchmark × metric over the (model, language) points.
- Round trip vs single pass, on the native benchmarks: each round-trip condition against the
  single pass of the same system (``pairs``: Google RTT vs Google), with a paired CI; against the
  mean of the reference conditions only when it has no partner (the row says which).
- The arms side by side: each condition's score and ΔS with one column per arm.
- The paper's summary views (``_summaries``): mean ΔS and how many models gain, per-model
  language means with r over them, round-trip counts, machine- vs human-translated MMLU.
- Completeness of a run's grid (what its spec asked for), or the coverage of imported records.

Without per-item results (imported records) the CIs say ``unavailable``; nothing is made up.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from statistics import fmean
from typing import Any

from nativejobs.report._completeness import CellStatus, Coverage, record_coverage
from nativejobs.report._pairs import check_pairs
from nativejobs.report._stats import EXACT_BELOW, discordant_pairs, mcnemar, paired_bootstrap_ci
from nativejobs.report._summaries import (
    Correlation,
    DeltaSummary,
    ModelMean,
    MtHt,
    Point,
    RoundTripSummary,
    correlation,
    delta_summaries,
    model_correlations,
    model_means,
    mt_vs_ht,
    round_trip_summaries,
)
from nativejobs.report._tables import CELL, Record, gaps, reference_conditions

__all__ = ["Analysis", "ArmRow", "Correlation", "Gap", "ItemKey", "Items", "McNemarTest", "Point",
           "RoundTrip", "analyze"]

ItemKey = tuple[str, str, str, str, str]  # (model, arm, language, condition, benchmark)
Items = Mapping[ItemKey, Sequence[Mapping[str, Any]]]  # per-item rows: id + metric values
ANALYSIS_FORMAT_VERSION = 2  # 2: RTT partners, summaries, coverage
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
class RoundTrip:
    """A round-trip condition against single-pass translation: its partner (the same system's
    single pass) when it has one, else the mean of the reference conditions."""

    model: str
    arm: str
    language: str
    benchmark: str
    metric: str
    condition: str
    single_pass_conditions: tuple[str, ...]  # (partner,), or the reference conditions averaged
    is_paired: bool  # True: the same system's single pass; False: the fallback mean
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
    pairs: dict[str, str]  # round-trip condition → its single-pass partner
    gaps: tuple[Gap, ...]
    correlations: tuple[Correlation, ...]  # over (model, language) points
    round_trip: tuple[RoundTrip, ...]
    arm_rows: tuple[ArmRow, ...]
    completeness: tuple[CellStatus, ...]  # a run's cells; empty for records alone
    coverage: tuple[Coverage, ...]  # which conditions each benchmark × arm has
    delta_summary: tuple[DeltaSummary, ...] = ()
    model_means: tuple[ModelMean, ...] = ()
    model_correlations: tuple[Correlation, ...] = ()  # over the models' language means
    round_trip_summary: tuple[RoundTripSummary, ...] = ()
    mt_vs_ht: tuple[MtHt, ...] = ()

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
            pairs: Mapping[str, str] | None = None, mmlu: tuple[str, str] | None = None,
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
        pairs: Round-trip condition → its single-pass partner (``_pairs``); a round trip
            without one is compared with the mean of ``reference``.
        mmlu: (machine-translated, human-translated) MMLU benchmark names; None = found by
            the records' ``kind`` (okapi_mmlu, mmmlu) or name (mt-mmlu, ht-mmlu).
        n_resamples: Bootstrap resamples per CI.
        seed: Bootstrap seed; the same inputs give the same CIs.
        confidence: CI coverage.
        completeness: A run's cell states; None for records alone (coverage is reported).

    Raises:
        ReportInputError: If ``reference`` names an unknown or native condition, or a pair is
            not round trip → translated.
    """
    ref = tuple(reference_conditions(kinds, reference))
    partners = check_pairs(pairs or {}, kinds)
    opts = _Options(n_resamples, seed, confidence)
    index = _ItemIndex(items) if items else None
    gap_rows = tuple(_gap(g, index, opts) for g in gaps(records, kinds, reference=ref))
    arms = tuple(dict.fromkeys(r["arm"] for r in records))
    trips = _round_trips(records, kinds, _Trips(ref, partners, native_benchmarks), index, opts)
    means = model_means(gap_rows)
    return Analysis(
        kinds=dict(kinds), reference=ref,
        conditions=tuple(c for c in kinds if c in {r["condition"] for r in records}),
        arms=arms, native_benchmarks=None if native_benchmarks is None else tuple(native_benchmarks),
        confidence=confidence, n_resamples=n_resamples, seed=seed, has_items=index is not None,
        pairs=partners, gaps=gap_rows, correlations=_correlations(gap_rows), round_trip=trips,
        arm_rows=_arm_rows(records, gap_rows, arms),
        completeness=tuple(completeness or ()), coverage=tuple(record_coverage(records, kinds)),
        delta_summary=delta_summaries(gap_rows), model_means=means,
        model_correlations=model_correlations(means),
        round_trip_summary=round_trip_summaries(trips), mt_vs_ht=mt_vs_ht(records, kinds, ref, mmlu))


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
    return tuple(correlation(*group, points) for group, points in groups.items())


def _scores(records: Sequence[Record]) -> dict[tuple[str, ...], dict[str, float]]:
    """Cell (model, arm, language, benchmark, metric) → condition → score."""
    cells: dict[tuple[str, ...], dict[str, float]] = defaultdict(dict)
    for r in records:
        cells[tuple(r[k] for k in CELL)][r["condition"]] = r["score"]
    return cells


@dataclass(frozen=True)
class _Trips:
    reference: tuple[str, ...]
    pairs: Mapping[str, str]
    native_benchmarks: Sequence[str] | None


def _round_trips(records: Sequence[Record], kinds: Mapping[str, str], how: _Trips,
                 index: _ItemIndex | None, opts: _Options) -> tuple[RoundTrip, ...]:
    round_trip = [c for c, k in kinds.items() if k == "round_trip"]
    out = []
    for cell_values, scores in sorted(_scores(records).items()):
        cell = dict(zip(CELL, cell_values, strict=True))
        if how.native_benchmarks is not None and cell["benchmark"] not in how.native_benchmarks:
            continue
        native = next((s for c, s in scores.items() if kinds.get(c) == "native"), None)
        for rtt in (c for c in round_trip if c in scores):
            out.append(_round_trip(cell, rtt, scores, native, how, index, opts))
    return tuple(out)


def _round_trip(cell: Mapping[str, Any], rtt: str, scores: Mapping[str, float],
                native: float | None, how: _Trips, index: _ItemIndex | None,
                opts: _Options) -> RoundTrip:
    """One round-trip row: against its partner when it has one, else the reference mean."""
    paired_with = how.pairs.get(rtt)
    refs = [paired_with] if paired_with else [c for c in how.reference if c in scores]
    have = [c for c in refs if c in scores]
    single = fmean(scores[c] for c in have) if have else None
    paired = (_paired(index, _key(cell, rtt), have, cell, opts) if have else
              Paired(ci=f"unavailable: no {' or '.join(refs) or 'single-pass'} score"))
    return RoundTrip(
        **cell, condition=rtt, single_pass_conditions=tuple(refs), is_paired=bool(paired_with),
        round_trip=scores[rtt], single_pass=single, native=native,
        delta=None if single is None else scores[rtt] - single,
        native_minus_round_trip=None if native is None else native - scores[rtt], paired=paired)


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
