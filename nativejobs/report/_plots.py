"""The paper's figure types as PNG bytes (matplotlib, imported inside ``make_plots``).

- ``scores[-ARM].png``: native vs translated (every condition) per benchmark, model, language.
- ``delta_vs_native[-ARM].png``: ΔS against S_native per benchmark, with r, p and n.
- ``gaps.png``: ΔS per cell with its CI; hollow markers are inside the noise (or have no CI).
- ``round_trip.png``: native, single pass and round trip side by side.

Figures are built with ``matplotlib.figure.Figure`` (no pyplot), so no global state or GUI
backend is touched.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from nativejobs.report._analysis import Analysis, Correlation, RoundTrip
from nativejobs.report._tables import Record

__all__ = ["make_plots"]

_MARKERS = "osD^vP*Xh<>"


def make_plots(analysis: Analysis, records: Sequence[Record]) -> dict[str, bytes]:
    """File name → PNG bytes for every figure the analysis has data for.

    Raises:
        ImportError: If matplotlib is not installed (``pip install 'nativejobs[report]'``).
    """
    plots: dict[str, bytes] = {}
    for arm in analysis.arms:
        suffix = "" if len(analysis.arms) == 1 else f"-{_slug(arm)}"
        arm_records = [r for r in records if r["arm"] == arm]
        if arm_records:
            plots[f"scores{suffix}.png"] = _scores(arm_records, analysis.conditions, arm)
        correlations = [c for c in analysis.correlations if c.arm == arm]
        if correlations:
            plots[f"delta_vs_native{suffix}.png"] = _scatter(correlations, arm)
    if analysis.gaps:
        plots["gaps.png"] = _gaps(analysis)
    if analysis.round_trip:
        plots["round_trip.png"] = _round_trip(analysis.round_trip)
    return plots


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_") or "arm"


def _panels(n: int, *, height: float = 3.4) -> tuple[Any, list[Any]]:
    from matplotlib.figure import Figure

    ncols = min(3, n)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(5.2 * ncols, height * nrows + 0.8), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _short_labels(groups: Sequence[tuple[str, ...]]) -> list[str]:
    """Group labels from only the parts that vary between groups (the rest is in the title)."""
    varying = [i for i in range(len(groups[0])) if len({g[i] for g in groups}) > 1] or [0]
    sep = "\n" if len(groups) <= 8 else " "
    return [sep.join(g[i] for i in varying) for g in groups]


def _bars(ax: Any, groups: Sequence[tuple[str, ...]], series: dict[str, list[float | None]],
          color: Callable[[int], Any]) -> None:
    """Grouped bars: one group per x label, one bar per series (None = no bar)."""
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        xs = [g + (i - (len(series) - 1) / 2) * width for g, v in enumerate(values) if v is not None]
        ax.bar(xs, [v for v in values if v is not None], width, label=name, color=color(i))
    many = len(groups) > 8
    ax.set_xticks(range(len(groups)), _short_labels(groups), fontsize=7 if many else 8,
                  rotation=60 if many else 0, ha="right" if many else "center")
    ax.axhline(0, color="#444", linewidth=0.6)


def _scores(records: Sequence[Record], conditions: Sequence[str], arm: str) -> bytes:
    from matplotlib import colormaps

    panels = list(dict.fromkeys((r["benchmark"], r["metric"]) for r in records))
    groups = list(dict.fromkeys((r["model"], r["language"]) for r in records))
    score = {(r["benchmark"], r["metric"], r["model"], r["language"], r["condition"]): r["score"]
             for r in records}
    fig, axes = _panels(len(panels))
    cmap = colormaps["tab10"]
    for ax, (bench, metric) in zip(axes, panels, strict=True):
        series = {c: [score.get((bench, metric, m, lang, c)) for m, lang in groups]
                  for c in conditions}
        _bars(ax, groups, series, cmap)
        ax.set_title(f"{bench} · {metric}", fontsize=10)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right upper", fontsize=8)
    fig.suptitle(f"Native vs translated — arm {arm}")
    return _png(fig)


def _scatter(correlations: Sequence[Correlation], arm: str) -> bytes:
    from matplotlib import colormaps

    languages = sorted({p.language for c in correlations for p in c.points})
    models = sorted({p.model for c in correlations for p in c.points})
    cmap = colormaps["tab10"]
    fig, axes = _panels(len(correlations))
    for ax, c in zip(axes, correlations, strict=True):
        for p in c.points:
            ax.scatter(p.native, p.delta, color=cmap(languages.index(p.language)),
                       marker=_MARKERS[models.index(p.model) % len(_MARKERS)], s=36)
        ax.axhline(0, color="#444", linewidth=0.6)
        r = "r=–" if c.r is None else f"r={c.r:+.2f}, p={c.p:.2g}"
        ax.set_title(f"{c.benchmark} · {c.metric}\n{r}, n={c.n}", fontsize=10)
        ax.set_xlabel("S_native", fontsize=8)
        ax.set_ylabel("ΔS", fontsize=8)
    handles = [axes[0].scatter([], [], color=cmap(i), label=lang) for i, lang in enumerate(languages)]
    handles += [axes[0].scatter([], [], color="#777", label=model,
                                marker=_MARKERS[i % len(_MARKERS)])
                for i, model in enumerate(models)] if len(models) > 1 else []
    fig.legend(handles=handles, loc="outside right upper", fontsize=8)
    fig.suptitle(f"ΔS vs S_native — arm {arm}")
    return _png(fig)


def _gaps(analysis: Analysis) -> bytes:
    panels = list(dict.fromkeys((g.benchmark, g.metric) for g in analysis.gaps))
    tallest = max(sum((g.benchmark, g.metric) == p for g in analysis.gaps) for p in panels)
    fig, axes = _panels(len(panels), height=min(12.0, 1.2 + 0.28 * tallest))
    for ax, (bench, metric) in zip(axes, panels, strict=True):
        rows = [g for g in analysis.gaps if (g.benchmark, g.metric) == (bench, metric)]
        for y, g in enumerate(rows):
            p = g.paired
            err = None if p.ci_low is None else [[g.delta - p.ci_low], [p.ci_high - g.delta]]
            ax.errorbar(g.delta, y, xerr=err, fmt="o", color="#2b6cb0", capsize=3,
                        markerfacecolor="#2b6cb0" if p.inside_noise is False else "white")
        ax.set_yticks(range(len(rows)), [f"{g.model} {g.language} {g.arm}" for g in rows],
                      fontsize=7)
        ax.axvline(0, color="#444", linewidth=0.6)
        ax.set_title(f"{bench} · {metric}", fontsize=10)
        ax.set_xlabel("ΔS", fontsize=8)
    fig.suptitle(f"ΔS with {analysis.confidence:.0%} CI (filled: outside the noise)")
    return _png(fig)


def _round_trip(rows: Sequence[RoundTrip]) -> bytes:
    from matplotlib import colormaps

    panels = list(dict.fromkeys((t.benchmark, t.metric) for t in rows))
    cmap = colormaps["Set2"]
    fig, axes = _panels(len(panels))
    for ax, (bench, metric) in zip(axes, panels, strict=True):
        mine = [t for t in rows if (t.benchmark, t.metric) == (bench, metric)]
        groups = [(t.model, t.language, t.arm, t.condition) for t in mine]
        series = {"native": [t.native for t in mine], "single pass": [t.single_pass for t in mine],
                  "round trip": [t.round_trip for t in mine]}
        _bars(ax, groups, series, cmap)
        ax.set_title(f"{bench} · {metric}", fontsize=10)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right upper", fontsize=8)
    fig.suptitle("Round trip vs single pass")
    return _png(fig)
