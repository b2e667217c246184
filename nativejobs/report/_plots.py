"""The paper's figure types as SVG (``_svg``): a few faceted figures, one panel per benchmark ×
metric, each bar a model's mean over its languages (the paper's per-model figures average
es/ru/zh); the per-cell numbers are in the tables, not in a figure per cell.

- ``scores.svg``: every condition's score per model at the first (main) arm; every arm's scores
  are in the tables and its ΔS in the next figure.
- ``delta_by_model.svg``: ΔS per model, one bar per arm.
- ``delta_vs_native.svg``: ΔS against S_native over the (model, language) points, colour = arm,
  mark = language, with r per arm.
- ``round_trip.svg``: native, each round trip and its single pass (or the fallback mean) per
  model.

Each figure has one legend, of every series drawn in any of its panels, and a condition (or arm,
or language) has the same colour (mark) in every panel and every figure.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from statistics import fmean

from nativejobs.report._analysis import Analysis, RoundTrip
from nativejobs.report._summaries import Correlation
from nativejobs.report._svg import BarPanel, ScatterPanel, Series, bar_figure, scatter_figure
from nativejobs.report._tables import Record

__all__ = ["make_plots", "palette"]

# Colour-blind-safe (Okabe–Ito, then Tol's muted) and fixed: the n-th condition of a study
# always gets the n-th colour, so a condition looks the same in every panel and figure.
_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
            "#332288", "#882255", "#44AA99", "#999933", "#AA4499")
_MEAN = "#777777"  # the fallback "mean of the single passes" series
_MARKS = ("circle", "triangle", "diamond", "square")


def palette(names: Sequence[str]) -> dict[str, str]:
    """Name → colour, by position in ``names`` (the study's conditions, or its arms)."""
    return {name: _COLOURS[i % len(_COLOURS)] for i, name in enumerate(names)}


def make_plots(analysis: Analysis, records: Sequence[Record]) -> dict[str, bytes]:
    """File name → SVG bytes (UTF-8) for every figure the analysis has data for."""
    colours = palette(analysis.conditions)
    order = {p: i for i, p in enumerate(dict.fromkeys((r["benchmark"], r["metric"]) for r in records))}
    plots: dict[str, bytes] = {}
    main = analysis.arms[0] if analysis.arms else None
    main_records = [r for r in records if r["arm"] == main]
    if main_records:
        plots["scores.svg"] = _scores(main_records, analysis.conditions, colours, str(main))
    if analysis.model_means:
        plots["delta_by_model.svg"] = _delta_by_model(analysis, order)
    if analysis.correlations:
        plots["delta_vs_native.svg"] = _scatter(analysis, order)
    if any(t.delta is not None for t in analysis.round_trip):
        native = next((c for c, k in analysis.kinds.items() if k == "native"), "native")
        plots["round_trip.svg"] = _round_trip(analysis.round_trip, colours, native, order)
    return plots


def _language_means(records: Sequence[Record]) -> dict[tuple[str, ...], float]:
    """(benchmark, metric, model, condition) → the mean score over the model's languages."""
    values: dict[tuple[str, ...], list[float]] = defaultdict(list)
    for r in records:
        values[r["benchmark"], r["metric"], r["model"], r["condition"]].append(r["score"])
    return {k: fmean(v) for k, v in values.items()}


def _scores(records: Sequence[Record], conditions: Sequence[str], colours: Mapping[str, str],
            arm: str) -> bytes:
    panels = list(dict.fromkeys((r["benchmark"], r["metric"]) for r in records))
    models = tuple(dict.fromkeys(r["model"] for r in records))
    mean = _language_means(records)
    bars = [BarPanel(f"{bench} · {metric}", models,
                     {c: tuple(mean.get((bench, metric, m, c)) for m in models)
                      for c in conditions})
            for bench, metric in panels]
    series = [Series(c, colours[c]) for c in conditions]
    return bar_figure(f"Scores per model (mean over languages), arm {arm}", bars, series,
                      legend_title="condition").encode()


def _in_order(panels: Iterable[tuple[str, str]],
              order: Mapping[tuple[str, str], int]) -> list[tuple[str, str]]:
    """The distinct panels, in the records' benchmark × metric order."""
    return sorted(dict.fromkeys(panels), key=lambda p: order.get(p, len(order)))


def _delta_by_model(analysis: Analysis, order: Mapping[tuple[str, str], int]) -> bytes:
    means = analysis.model_means
    panels = _in_order(((m.benchmark, m.metric) for m in means), order)
    models = tuple(dict.fromkeys(m.model for m in means))
    delta = {(m.benchmark, m.metric, m.model, m.arm): m.delta for m in means}
    bars = [BarPanel(f"{bench} · {metric}", models,
                     {a: tuple(delta.get((bench, metric, m, a)) for m in models)
                      for a in analysis.arms})
            for bench, metric in panels]
    colours = palette(analysis.arms)
    series = [Series(a, colours[a]) for a in analysis.arms]
    title = (f"ΔS per model (native − mean of {', '.join(analysis.reference)}; mean over "
             "languages)")
    return bar_figure(title, bars, series, legend_title="arm").encode()


def _scatter(analysis: Analysis, order: Mapping[tuple[str, str], int]) -> bytes:
    panels = _in_order(((c.benchmark, c.metric) for c in analysis.correlations), order)
    languages = sorted({p.language for c in analysis.correlations for p in c.points})
    colours = palette(analysis.arms)
    out = []
    for bench, metric in panels:
        mine = [c for c in analysis.correlations if (c.benchmark, c.metric) == (bench, metric)]
        points = tuple((c.arm, p.language, p.native, p.delta,
                        f"{p.model} {p.language} {c.arm}: S_native {p.native:.3f}, ΔS {p.delta:+.3f}")
                       for c in mine for p in c.points)
        out.append(ScatterPanel(f"{bench} · {metric}", points,
                                tuple(_r_line(c, len(mine)) for c in mine)))
    arms = [Series(a, colours[a], "swatch") for a in analysis.arms]
    marks = [Series(lang, "#555", _MARKS[i % len(_MARKS)]) for i, lang in enumerate(languages)]
    return scatter_figure("ΔS vs S_native over (model, language) points", out, arms, marks,
                          x_label="S_native", y_label="ΔS").encode()


def _r_line(c: Correlation, n_arms: int) -> str:
    r = "r –" if c.r is None else f"r {c.r:+.2f} (p {c.p:.2g})"
    return f"{c.arm + ': ' if n_arms > 1 else ''}{r}, n {c.n}"


def _round_trip(rows: Sequence[RoundTrip], colours: Mapping[str, str], native: str,
                order: Mapping[tuple[str, str], int]) -> bytes:
    rows = [t for t in rows if t.delta is not None]
    panels = _in_order(((t.benchmark, t.metric) for t in rows), order)
    arms = list(dict.fromkeys(t.arm for t in rows))
    groups = list(dict.fromkeys((t.model, t.arm) for t in rows))
    labels = tuple(m if len(arms) == 1 else f"{m} {a}" for m, a in groups)
    values = _round_trip_series(rows, native)
    names = list(dict.fromkeys(name for (_, _, _, _, name) in values))
    bars = [BarPanel(f"{bench} · {metric}", labels,
                     {n: tuple(values.get((bench, metric, m, a, n)) for m, a in groups)
                      for n in names})
            for bench, metric in panels]
    series = [Series(n, colours.get(n, _MEAN)) for n in names]
    return bar_figure("Round trip vs single pass of the same system (mean over languages)",
                      bars, series, legend_title="condition").encode()


def _round_trip_series(rows: Sequence[RoundTrip], native: str) -> dict[tuple[str, ...], float]:
    """(benchmark, metric, model, arm, series) → language mean; series are native, each
    single-pass partner (or the fallback mean) and each round-trip condition."""
    values: dict[tuple[str, ...], list[float]] = defaultdict(list)
    for t in rows:
        cell = (t.benchmark, t.metric, t.model, t.arm)
        single = (t.single_pass_conditions[0] if t.is_paired
                  else "mean of " + ", ".join(t.single_pass_conditions))
        if t.native is not None:
            values[(*cell, native)].append(t.native)
        if t.single_pass is not None:
            values[(*cell, single)].append(t.single_pass)
        values[(*cell, t.condition)].append(t.round_trip)
    # Two round trips of one language repeat the same native (and, unpaired, single-pass)
    # value, so the mean over the list is still the mean over languages.
    return {k: fmean(v) for k, v in values.items()}
