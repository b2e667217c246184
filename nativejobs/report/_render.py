"""The analysis as text: a markdown report and one self-contained HTML page.

Both are built from the same sections (title, note, table), so they always agree. The HTML
page holds its SVG plots inline (PNG ones as base64 data URIs) and its style: no external asset.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from nativejobs.report._analysis import Analysis, Gap, Paired, RoundTrip
from nativejobs.report._completeness import completeness_table, coverage_table, summary_line
from nativejobs.report._summaries import Correlation, DeltaSummary, ModelMean, MtHt, RoundTripSummary
from nativejobs.report._tables import Record, Table, fmt_value, score_table

__all__ = ["render_html", "render_markdown", "sections"]

# Plot file name prefix → the section it illustrates.
_PLOT_SECTION = {"scores": "scores", "delta_by_model": "summary",
                 "delta_vs_native": "correlations", "round_trip": "round-trip"}


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    note: str
    table: Table


def sections(analysis: Analysis, records: list[Record]) -> list[Section]:
    """The report's sections in reading order: the results, then completeness (first only when
    a run has failed or unfinished cells; alone when no cell has a result) or the records'
    coverage."""
    ref = " and ".join(analysis.reference) or "(no reference condition)"
    out = [
        Section("scores", "Scores", f"ΔS = native − mean of {ref}.",
                score_table(records, analysis.kinds, reference=analysis.reference)),
        Section("summary", "ΔS summary",
                "Mean ΔS over the (model, language) points of each benchmark × metric × arm, and "
                "how many have ΔS > 0: models by their language mean, and points.",
                _delta_summary_table(analysis.delta_summary)),
        Section("gaps", f"ΔS with {analysis.confidence:.0%} CI", _ci_note(analysis),
                _gap_table(analysis.gaps)),
        Section("correlations", "r(ΔS, S_native) per benchmark",
                "Pearson r over the (model, language) points of each arm × benchmark × metric, "
                "and over the models' language means (the paper's per-model view); the paper "
                "finds it weak on structured tasks and strong on generative ones.",
                _correlation_table(analysis)),
        Section("model-means", "Per model, languages averaged",
                "Each model's native and translated scores and ΔS averaged over its languages.",
                _model_mean_table(analysis.model_means)),
        *_round_trip_sections(analysis),
        *_mt_ht_sections(analysis),
        *_arm_sections(analysis),
    ]
    if not analysis.completeness:
        return [*out, Section("completeness", "Completeness: coverage of the records",
                              "Records alone carry no design, so nothing here is called missing: "
                              "for each benchmark × arm, the conditions present and on how many "
                              "of its (model, language) points.",
                              coverage_table(analysis.coverage))]
    whole = Section("completeness", "Completeness",
                    f"{summary_line(analysis.completeness)} (the cells the spec asked for).",
                    completeness_table(analysis.completeness))
    if not records:  # nothing has finished: every results section would say "(none)"
        return [whole]
    # Holes in the grid come first; a complete grid's table is reference material, so last.
    is_complete = all(c.state == "done" for c in analysis.completeness)
    return [*out, whole] if is_complete else [whole, *out]


def _ci_note(analysis: Analysis) -> str:
    if not analysis.has_items:
        return ("No per-item results were used (imported records, or a run that has not "
                "reached its summarize step), so no CIs or tests: a gap cannot be told from "
                "the noise here.")
    return (f"{analysis.confidence:.0%} paired bootstrap CIs ({analysis.n_resamples} resamples, "
            f"seed {analysis.seed}) over the items every condition answered; a gap whose CI "
            "contains 0 is inside the noise. McNemar p per reference condition for 0/1 metrics.")


def _round_trip_sections(analysis: Analysis) -> list[Section]:
    if not analysis.round_trip:
        return []
    where = (", ".join(analysis.native_benchmarks) if analysis.native_benchmarks
             else "every benchmark")
    rtts = dict.fromkeys(t.condition for t in analysis.round_trip)
    against = "; ".join(f"{c} vs {analysis.pairs[c]}" if c in analysis.pairs else
                        f"{c} vs the mean of {' and '.join(analysis.reference)} (no single-pass "
                        "partner known: give one with a pair column or --pair)" for c in rtts)
    note = (f"Round-trip data keeps native knowledge with doubled translation defects; each is "
            f"compared with the single pass of the same system: {against}. Benchmarks: {where}.")
    return [Section("round-trip-summary", "Round trip vs single pass: per system",
                    "Mean RT − SP over the (model, language) points, and how many models (by "
                    "their language mean) and points improve with the round trip.",
                    _round_trip_summary_table(analysis.round_trip_summary)),
            Section("round-trip", "Round trip vs single pass", note,
                    _round_trip_table(analysis.round_trip))]


def _mt_ht_sections(analysis: Analysis) -> list[Section]:
    if not analysis.mt_vs_ht:
        return []
    first = analysis.mt_vs_ht[0]
    return [Section("mt-ht", "Machine- vs human-translated MMLU",
                    f"{first.mt_benchmark} (machine-translated) beside {first.ht_benchmark} "
                    "(human-translated) per model and language: each condition's score and ΔS "
                    "on both (native and the conditions ΔS subtracts).",
                    _mt_ht_table(analysis.mt_vs_ht, [c for c in analysis.conditions
                                                     if analysis.kinds.get(c) == "native"
                                                     or c in analysis.reference]))]


def _arm_sections(analysis: Analysis) -> list[Section]:
    if not analysis.arm_rows:
        return []
    return [Section("arms", "Arms side by side",
                    "Each condition's score and ΔS per training arm (lr, multilingual).",
                    Table(("model", "language", "benchmark", "metric", "row", *analysis.arms),
                          tuple((a.model, a.language, a.benchmark, a.metric, a.row,
                                 *(fmt_value(a.values.get(arm)) for arm in analysis.arms))
                                for a in analysis.arm_rows)))]


def _ci(p: Paired) -> str:
    return p.ci if p.ci_low is None else f"[{p.ci_low:.3f}, {p.ci_high:.3f}]"


def _noise(p: Paired) -> str:
    return "–" if p.inside_noise is None else "inside noise" if p.inside_noise else "significant"


def _signed(x: float | None) -> str:
    if x is None:
        return "–"
    text = f"{x:+.3f}"
    return "+0.000" if text == "-0.000" else text  # a rounding sign is not a direction


def _p(x: float | None) -> str:
    return "–" if x is None else f"{x:.3g}"


def _gap_table(gaps: Sequence[Gap]) -> Table:
    rows = tuple((g.model, g.arm, g.language, g.benchmark, g.metric, fmt_value(g.native),
                  ", ".join(g.reference), fmt_value(g.translated_mean), _signed(g.delta),
                  _ci(g.paired), fmt_value(g.paired.n_items),
                  "; ".join(f"{t.condition} {_p(t.p)}" for t in g.paired.mcnemar) or "–",
                  _noise(g.paired)) for g in gaps)
    return Table(("model", "arm", "language", "benchmark", "metric", "native", "reference",
                  "translated", "ΔS", "CI", "items", "McNemar p", "noise"), rows)


def _correlation_table(analysis: Analysis) -> Table:
    by_model = {(c.arm, c.benchmark, c.metric): c for c in analysis.model_correlations}
    rows = tuple((c.arm, c.benchmark, c.metric, *_r(c), *_r(by_model.get((c.arm, c.benchmark,
                                                                            c.metric))))
                 for c in analysis.correlations)
    return Table(("arm", "benchmark", "metric", "r (points)", "p", "n", "r (model means)", "p",
                  "n"), rows)


def _r(c: Correlation | None) -> tuple[str, str, str]:
    return ("–", "–", "0") if c is None else (_signed(c.r), _p(c.p), str(c.n))


def _count(k: int, n: int) -> str:
    return f"{k} of {n}"


def _delta_summary_table(rows: Sequence[DeltaSummary]) -> Table:
    body = tuple((s.benchmark, s.metric, s.arm, _signed(s.mean_delta),
                  _count(s.models_positive, s.models), _count(s.points_positive, s.points))
                 for s in rows)
    return Table(("benchmark", "metric", "arm", "mean ΔS", "models with ΔS > 0",
                  "points with ΔS > 0"), body)


def _model_mean_table(rows: Sequence[ModelMean]) -> Table:
    body = tuple((m.model, m.arm, m.benchmark, m.metric, "+".join(m.languages), fmt_value(m.native),
                  fmt_value(m.translated_mean), _signed(m.delta)) for m in rows)
    return Table(("model", "arm", "benchmark", "metric", "languages", "native", "translated",
                  "ΔS"), body)


def _round_trip_summary_table(rows: Sequence[RoundTripSummary]) -> Table:
    body = tuple((s.arm, s.benchmark, s.metric, s.condition, s.single_pass,
                  _signed(s.mean_delta), _count(s.models_improved, s.models),
                  _count(s.points_improved, s.points)) for s in rows)
    return Table(("arm", "benchmark", "metric", "round trip", "single pass", "mean RT − SP",
                  "models improved", "points improved"), body)


def _round_trip_table(rows: Sequence[RoundTrip]) -> Table:
    body = tuple((t.model, t.arm, t.language, t.benchmark, t.metric, t.condition,
                  _single_pass(t), fmt_value(t.native), fmt_value(t.single_pass),
                  fmt_value(t.round_trip), _signed(t.delta), _ci(t.paired), _noise(t.paired),
                  _signed(t.native_minus_round_trip))
                 for t in rows)
    return Table(("model", "arm", "language", "benchmark", "metric", "condition", "against",
                  "native", "single pass", "round trip", "RT − SP", "CI", "noise", "native − RT"),
                 body)


def _single_pass(t: RoundTrip) -> str:
    names = ", ".join(t.single_pass_conditions)
    return names if t.is_paired else f"mean of {names} (no partner)"


def _mt_ht_table(rows: Sequence[MtHt], conditions: Sequence[str]) -> Table:
    present = [c for c in conditions if any(c in r.mt or c in r.ht for r in rows)]
    body = tuple((r.model, r.arm, r.language, r.metric,
                  *(fmt_value(side.get(c)) for c in present for side in (r.mt, r.ht)),
                  _signed(r.mt_delta), _signed(r.ht_delta)) for r in rows)
    return Table(("model", "arm", "language", "metric",
                  *(f"{c} {side}" for c in present for side in ("MT", "HT")), "ΔS MT", "ΔS HT"),
                 body)


def render_markdown(analysis: Analysis, records: list[Record], *, title: str = "Results") -> str:
    """The report as markdown: every section of ``sections`` in order."""
    parts = [f"# {title}\n"]
    for s in sections(analysis, records):
        body = s.table.markdown() if s.table.rows else "(none)\n"
        parts.append(f"## {s.title}\n\n{s.note}\n\n{body}")
    return "\n".join(parts)


_STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#1b1b1b;background:#fff}
h1{font-size:1.6em}h2{margin-top:1.6em;border-bottom:2px solid #2b6cb0;padding-bottom:4px}
p.note{color:#444;max-width:70em}
table{border-collapse:collapse;margin:8px 0;font-size:0.9em}
th,td{border:1px solid #bbb;padding:3px 8px;text-align:left}
th{background:#e8eef7}tr:nth-child(even) td{background:#f6f8fb}
td.failed{color:#b00020;font-weight:bold}td.significant{color:#05668d;font-weight:bold}
img{max-width:100%;border:1px solid #ddd;margin:8px 0}
figure.plot{margin:8px 0;overflow-x:auto}figure.plot svg{border:1px solid #ddd}
"""


def _html_table(s: Section) -> str:
    if not s.table.rows:
        return '<p class="empty">(none)</p>'
    head = "".join(f"<th>{html.escape(h)}</th>" for h in s.table.headers)
    rows = []
    for row in s.table.rows:
        cells = "".join(f'<td class="{html.escape(c)}">{html.escape(c)}</td>'
                        if c in ("failed", "significant") else f"<td>{html.escape(c)}</td>"
                        for c in row)
        rows.append(f"<tr>{cells}</tr>")
    return (f'<table id="{s.id}-table" class="results"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def _images(section: str, plots: Mapping[str, bytes]) -> str:
    """The section's figures: SVG inline, PNG (or anything else) as a base64 data URI."""
    out = []
    for name, data in plots.items():
        if _PLOT_SECTION.get(name.split(".")[0].split("-")[0]) != section:
            continue
        if name.endswith(".svg"):
            out.append(f'<figure class="plot">{data.decode("utf-8")}</figure>')
        else:
            encoded = base64.b64encode(data).decode("ascii")
            out.append(f'<img alt="{html.escape(name)}" src="data:image/png;base64,{encoded}">')
    return "".join(out)


def render_html(analysis: Analysis, records: list[Record], plots: Mapping[str, bytes], *,
                title: str = "Results") -> str:
    """One self-contained HTML page: every table, and ``plots`` (name → SVG or PNG bytes)
    embedded."""
    body = [f"<h1>{html.escape(title)}</h1>"]
    for s in sections(analysis, records):
        body.append(f'<section id="{s.id}"><h2>{html.escape(s.title)}</h2>'
                    f'<p class="note">{html.escape(s.note)}</p>{_images(s.id, plots)}'
                    f"{_html_table(s)}</section>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
            f"<body>{''.join(body)}</body></html>\n")
