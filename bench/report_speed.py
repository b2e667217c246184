"""The HTML report's speed and size on paper-shaped imported records, against today's plotting.

Records: the paper's grid (PROTOCOL.md; examples/paper.yaml) per model: es/ru/zh × the
benchmarks each language has (TyDi QA ru, CMMLU and C-Eval zh, XQuAD EM and include, MGSM,
Okapi MMLU, MMMLU es/zh, two open-QA sets × two judges) × native, Google, Cohere and their round
trips at lr 1e-4, native/Google/Cohere at the three regularisation arms: 406 records a model.
Models are added until there are N records (the last one may be cut short); scores are drawn
with a fixed seed, so every run reports on the same records.

For each N the same import is reported twice, both from the record file to the HTML text:

  before   the analysis and tables of today, plots made by the plotting code this issue
           replaced (``old_make_plots`` below, copied verbatim: per-arm figures, a panel per
           benchmark with a bar per (model, language) cell, a per-cell ΔS figure, RGBA PNG)
  after    ``import_report(..., "html")``: the faceted, palette-PNG figures of ``_plots``

and prints wall time, process CPU time and the HTML size. On a shared, busy machine wall time
varies run to run; CPU time is the steadier figure.

    python bench/report_speed.py                        # 3,000 and 30,000 records, both ways
    python bench/report_speed.py --sizes 3000 --no-before
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from nativejobs.report import (
    Analysis,
    Correlation,
    RoundTrip,
    analyze,
    check_unique,
    import_report,
    kinds_from_records,
    load_records,
    pairs_from_records,
    render_html,
)

Record = dict[str, Any]

CONDITIONS = {"native": "native", "google": "translated", "cohere": "translated",
              "google-rtt": "round_trip", "cohere-rtt": "round_trip"}
PAIRS = {"google-rtt": "google", "cohere-rtt": "cohere"}
ARMS = {"lr-1e-4": tuple(CONDITIONS), "lr-1e-6": ("native", "google", "cohere"),
        "multi-lr-1e-4": ("native", "google", "cohere"),
        "multi-lr-1e-6": ("native", "google", "cohere")}
# (benchmark, kind, languages, metrics)
BENCHMARKS = (
    ("tydiqa", "tydiqa", ("ru",), ("f1",)),
    ("cmmlu", "cmmlu", ("zh",), ("acc",)),
    ("ceval", "ceval", ("zh",), ("acc",)),
    ("xquad", "xquad", ("es", "ru", "zh"), ("exact_match", "include")),
    ("mgsm", "mgsm", ("es", "ru", "zh"), ("exact_match_flexible",)),
    ("mt-mmlu", "okapi_mmlu", ("es", "ru", "zh"), ("acc",)),
    ("ht-mmlu", "mmmlu", ("es", "zh"), ("acc",)),
    ("openqa-translated", "open_qa", ("es", "ru", "zh"),
     ("judge_gpt4-turbo_total", "judge_mistral-small_total")),
    ("openqa-native", "open_qa", ("es", "ru", "zh"),
     ("judge_gpt4-turbo_total", "judge_mistral-small_total")),
)
MODELS = ("llama-2-7b", "gemma-2b", "gemma-7b", "qwen15-0-5b", "qwen15-1-8b", "qwen15-4b",
          "qwen15-7b", "qwen15-14b")


def paper_records(n: int, seed: int = 0) -> list[Record]:
    """``n`` records of the paper's shape (see the module docstring)."""
    rng = random.Random(seed)
    out: list[Record] = []
    for i in range(math.ceil(n / 406) + 1):
        model = MODELS[i] if i < len(MODELS) else f"model-{i:03d}"
        out += _model_records(model, rng)
        if len(out) >= n:
            return out[:n]
    return out[:n]


def _model_records(model: str, rng: random.Random) -> list[Record]:
    rows = []
    for arm, conditions in ARMS.items():
        for bench, kind, languages, metrics in BENCHMARKS:
            for lang in languages:
                for metric in metrics:
                    base = rng.uniform(0.2, 0.7)
                    for cond in conditions:
                        score = min(1.0, max(0.0, base + rng.gauss(0, 0.03)))
                        rows.append({"model": model, "language": lang, "condition": cond,
                                     "arm": arm, "benchmark": bench, "metric": metric,
                                     "score": round(score * (200 if "judge" in metric else 1) +
                                                    (50 if "judge" in metric else 0), 4),
                                     "n": 50 if kind == "open_qa" else 1000,
                                     "condition_kind": CONDITIONS[cond], "kind": kind,
                                     "pair": PAIRS.get(cond, "")})
    return rows


def write_csv(records: Sequence[Record], path: Path) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(records[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    path.write_text(buf.getvalue(), encoding="utf-8")


def before_report(path: Path) -> str:
    """The same import, reported with today's plotting (``old_make_plots``)."""
    records = [{**r, "source": path.name} for r in load_records(path)]
    kinds = kinds_from_records(records)
    check_unique(records)
    analysis = analyze(records, kinds, pairs=pairs_from_records(records))
    plots = {_section_name(name): png for name, png in old_make_plots(analysis, records).items()}
    return render_html(analysis, records, plots, title=f"Results: {path.name}")


def _section_name(name: str) -> str:
    # Today's per-cell ΔS figure has no section in the new page; embed it with the ΔS summary so
    # that the page carries every figure it used to (the size comparison stays fair).
    return "delta_by_model-gaps.png" if name == "gaps.png" else name


def after_report(path: Path) -> str:
    return import_report([path], "html")


def measure(report: Callable[[Path], str], path: Path) -> tuple[float, float, int]:
    """(wall s, CPU s, HTML bytes) of one report."""
    wall, cpu = time.perf_counter(), time.process_time()
    text = report(path)
    return time.perf_counter() - wall, time.process_time() - cpu, len(text.encode("utf-8"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[3000, 30000])
    parser.add_argument("--no-before", action="store_true", help="skip today's plotting")
    args = parser.parse_args(argv)
    print(f"{'records':>8} {'variant':>7} {'wall s':>8} {'cpu s':>8} {'html MB':>8}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            path = Path(tmp) / f"paper-{n}.csv"
            write_csv(paper_records(n), path)
            variants = [("after", after_report)] + ([] if args.no_before else
                                                    [("before", before_report)])
            for name, report in variants:
                wall, cpu, size = measure(report, path)
                print(f"{n:>8} {name:>7} {wall:>8.1f} {cpu:>8.1f} {size / 1e6:>8.2f}", flush=True)
    return 0


# -- today's plotting, kept here only as the baseline (nativejobs/report/_plots.py before) -----------
_MARKERS = "osD^vP*Xh<>"


def old_make_plots(analysis: Analysis, records: Sequence[Record]) -> dict[str, bytes]:
    """Today's (before issue 13) plots: per-arm figures, a per-cell ΔS figure, RGBA PNGs."""
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


if __name__ == "__main__":
    sys.exit(main())
