"""The paper's figure types as compressed PNG bytes (matplotlib, imported inside ``make_plots``).

A few faceted figures, one panel per benchmark × metric, each bar a model's mean over its
languages (the paper's per-model figures average es/ru/zh); the per-cell numbers are in the
tables, not in a figure per cell:

- ``scores[-ARM].png``: every condition's score per model.
- ``delta_by_model.png``: ΔS per model, one bar per arm.
- ``delta_vs_native.png``: ΔS against S_native over the (model, language) points, colour = arm,
  marker = language, with r per arm.
- ``round_trip.png``: native, each round trip and its single pass per model.

Each figure has one legend built from every series drawn in any of its panels, and a condition
(or arm, or language) has the same colour (marker) in every panel and every figure. Figures are
built with ``matplotlib.figure.Figure`` (no pyplot), so no global state or GUI backend is
touched; PNGs are quantised to a small palette (Pillow), which keeps a report small.
"""

from __future__ import annotations

import io
import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from statistics import fmean
from typing import Any

from nativejobs.report._analysis import Analysis, RoundTrip
from nativejobs.report._tables import Record

__all__ = ["make_plots", "palette"]

_MARKERS = "osD^vP*Xh<>"
# Colour-blind-safe (Okabe–Ito, then Tol's muted) and fixed: the n-th condition of a study
# always gets the n-th colour, so a condition looks the same in every panel and figure.
_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
            "#332288", "#882255", "#44AA99", "#999933", "#AA4499")
_MEAN = "#777777"  # the fallback "mean of the single passes" series
_DPI = 80
_PALETTE_COLOURS = 128


def palette(names: Sequence[str]) -> dict[str, str]:
    """Name → colour, by position in ``names`` (the study's conditions, or its arms)."""
    return {name: _COLOURS[i % len(_COLOURS)] for i, name in enumerate(names)}


def make_plots(analysis: Analysis, records: Sequence[Record]) -> dict[str, bytes]:
    """File name → PNG bytes for every figure the analysis has data for.

    Raises:
        ImportError: If matplotlib is not installed (``pip install 'nativejobs[report]'``).
    """
    colours = palette(analysis.conditions)
    plots: dict[str, bytes] = {}
    for arm in analysis.arms:
        suffix = "" if len(analysis.arms) == 1 else f"-{_slug(arm)}"
        arm_records = [r for r in records if r["arm"] == arm]
        if arm_records:
            plots[f"scores{suffix}.png"] = _scores(arm_records, analysis.conditions, colours, arm)
    if analysis.model_means:
        plots["delta_by_model.png"] = _delta_by_model(analysis)
    if analysis.correlations:
        plots["delta_vs_native.png"] = _scatter(analysis)
    if any(t.delta is not None for t in analysis.round_trip):
        native = next((c for c, k in analysis.kinds.items() if k == "native"), "native")
        plots["round_trip.png"] = _round_trip(analysis.round_trip, colours, native)
    return plots


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_") or "arm"


def _panels(n: int, groups: int) -> tuple[Any, list[Any]]:
    """A figure of ``n`` panels, wider panels when there are many x groups."""
    from matplotlib.figure import Figure

    ncols = min(4 if groups <= 12 else 2, n)
    nrows = math.ceil(n / ncols)
    width = min(12.0, max(3.4, 0.28 * groups))
    fig = Figure(figsize=(width * ncols + 1.6, 2.5 * nrows + 0.7), dpi=_DPI, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def _png(fig: Any) -> bytes:
    """The figure as a palette PNG: a fraction of the RGBA size, no visible loss for plots."""
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI)
    image = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    out = io.BytesIO()
    image.quantize(_PALETTE_COLOURS, method=Image.Quantize.MEDIANCUT).save(out, format="PNG",
                                                                            optimize=True)
    return out.getvalue()


def _legend(fig: Any, handles: Mapping[str, Any], title: str | None = None) -> None:
    """One legend for the whole figure, from every series drawn in any panel."""
    fig.legend(list(handles.values()), list(handles), loc="outside right upper", fontsize=8,
               title=title, title_fontsize=8)


def _bars(ax: Any, labels: Sequence[str], series: Mapping[str, Sequence[float | None]],
          colours: Mapping[str, str], handles: dict[str, Any]) -> None:
    """Grouped bars: one group per x label, one bar per series (None = no bar)."""
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        xs = [g + (i - (len(series) - 1) / 2) * width for g, v in enumerate(values) if v is not None]
        if xs:
            handles[name] = ax.bar(xs, [v for v in values if v is not None], width,
                                   color=colours.get(name, _MEAN), label=name)
    many = len(labels) > 8
    ax.set_xticks(range(len(labels)), labels, fontsize=6 if many else 7,
                  rotation=90 if many else 0)
    ax.tick_params(axis="y", labelsize=7)
    ax.axhline(0, color="#444", linewidth=0.6)


def _language_means(records: Sequence[Record]) -> dict[tuple[str, ...], float]:
    """(benchmark, metric, model, condition) → the mean score over the model's languages."""
    values: dict[tuple[str, ...], list[float]] = defaultdict(list)
    for r in records:
        values[r["benchmark"], r["metric"], r["model"], r["condition"]].append(r["score"])
    return {k: fmean(v) for k, v in values.items()}


def _scores(records: Sequence[Record], conditions: Sequence[str], colours: Mapping[str, str],
            arm: str) -> bytes:
    panels = list(dict.fromkeys((r["benchmark"], r["metric"]) for r in records))
    models = list(dict.fromkeys(r["model"] for r in records))
    present = [c for c in conditions if any(r["condition"] == c for r in records)]
    mean = _language_means(records)
    fig, axes = _panels(len(panels), len(models))
    handles: dict[str, Any] = {}
    for ax, (bench, metric) in zip(axes, panels, strict=True):
        series = {c: [mean.get((bench, metric, m, c)) for m in models] for c in present}
        _bars(ax, models, series, colours, handles)
        ax.set_title(f"{bench} · {metric}", fontsize=9)
    _legend(fig, {c: handles[c] for c in present if c in handles}, "condition")
    fig.suptitle(f"Scores per model (mean over languages) — arm {arm}", fontsize=10)
    return _png(fig)


def _delta_by_model(analysis: Analysis) -> bytes:
    means = analysis.model_means
    panels = list(dict.fromkeys((m.benchmark, m.metric) for m in means))
    models = list(dict.fromkeys(m.model for m in means))
    delta = {(m.benchmark, m.metric, m.model, m.arm): m.delta for m in means}
    colours = palette(analysis.arms)
    fig, axes = _panels(len(panels), len(models))
    handles: dict[str, Any] = {}
    for ax, (bench, metric) in zip(axes, panels, strict=True):
        series = {a: [delta.get((bench, metric, m, a)) for m in models] for a in analysis.arms}
        _bars(ax, models, series, colours, handles)
        ax.set_title(f"{bench} · {metric}", fontsize=9)
    _legend(fig, {a: handles[a] for a in analysis.arms if a in handles}, "arm")
    fig.suptitle(f"ΔS per model (native − mean of {', '.join(analysis.reference)}; mean over "
                 "languages)", fontsize=10)
    return _png(fig)


def _scatter(analysis: Analysis) -> bytes:
    panels = list(dict.fromkeys((c.benchmark, c.metric) for c in analysis.correlations))
    languages = sorted({p.language for c in analysis.correlations for p in c.points})
    colours = palette(analysis.arms)
    fig, axes = _panels(len(panels), 0)
    handles: dict[str, Any] = {}
    for ax, (bench, metric) in zip(axes, panels, strict=True):
        mine = [c for c in analysis.correlations if (c.benchmark, c.metric) == (bench, metric)]
        for c in mine:
            for lang in languages:
                pts = [p for p in c.points if p.language == lang]
                if pts:
                    ax.scatter([p.native for p in pts], [p.delta for p in pts], s=16,
                               color=colours[c.arm], marker=_MARKERS[languages.index(lang)])
        ax.axhline(0, color="#444", linewidth=0.6)
        ax.tick_params(labelsize=7)
        ax.set_title(f"{bench} · {metric}", fontsize=9)
        ax.text(0.02, 0.98, "\n".join(_r_line(c, len(mine)) for c in mine), fontsize=6,
                transform=ax.transAxes, va="top")
        ax.set_xlabel("S_native", fontsize=7)
        ax.set_ylabel("ΔS", fontsize=7)
    for arm in dict.fromkeys(c.arm for c in analysis.correlations):
        handles[arm] = axes[0].scatter([], [], color=colours[arm], marker="s")
    for i, lang in enumerate(languages):
        handles[lang] = axes[0].scatter([], [], color="#555", marker=_MARKERS[i])
    _legend(fig, handles, "arm (colour), language (marker)")
    fig.suptitle("ΔS vs S_native over (model, language) points", fontsize=10)
    return _png(fig)


def _r_line(c: Any, n_arms: int) -> str:
    r = "r –" if c.r is None else f"r {c.r:+.2f} (p {c.p:.2g})"
    return f"{c.arm + ': ' if n_arms > 1 else ''}{r}, n {c.n}"


def _round_trip(rows: Sequence[RoundTrip], colours: Mapping[str, str], native: str) -> bytes:
    rows = [t for t in rows if t.delta is not None]
    panels = list(dict.fromkeys((t.benchmark, t.metric) for t in rows))
    arms = list(dict.fromkeys(t.arm for t in rows))
    groups = list(dict.fromkeys((t.model, t.arm) for t in rows))
    labels = [m if len(arms) == 1 else f"{m} {a}" for m, a in groups]
    values = _round_trip_series(rows, native)
    names = list(dict.fromkeys(name for (_, _, _, _, name) in values))
    fig, axes = _panels(len(panels), len(groups))
    handles: dict[str, Any] = {}
    for ax, (bench, metric) in zip(axes, panels, strict=True):
        series = {n: [values.get((bench, metric, m, a, n)) for m, a in groups] for n in names}
        _bars(ax, labels, series, colours, handles)
        ax.set_title(f"{bench} · {metric}", fontsize=9)
    _legend(fig, {n: handles[n] for n in names if n in handles}, "condition")
    fig.suptitle("Round trip vs single pass of the same system (mean over languages)", fontsize=10)
    return _png(fig)


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
    # A native or single-pass score shared by two round trips of one language counts once per
    # round trip; its mean is unchanged because every round trip repeats the same values.
    return {k: fmean(v) for k, v in values.items()}
