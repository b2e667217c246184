"""The analysis as text: a markdown report and one self-contained HTML page.

Both are built from the same sections (title, note, table), so they always agree. The HTML
page embeds its plots as base64 PNG data URIs and its style inline: no external asset.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from nativejobs.report._analysis import Analysis, Gap, Paired, RoundTrip
from nativejobs.report._completeness import completeness_table, summary_line
from nativejobs.report._tables import Record, Table, fmt_value, score_table

__all__ = ["render_html", "render_markdown", "sections"]

# Plot file name prefix → the section it illustrates.
_PLOT_SECTION = {"scores": "scores", "gaps": "gaps", "delta_vs_native": "correlations",
                 "round_trip": "round-trip"}


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    note: str
    table: Table


def sections(analysis: Analysis, records: list[Record]) -> list[Section]:
    """The report's sections in reading order (completeness first when cells are missing)."""
    pct = f"{analysis.confidence:.0%}"
    ref = " and ".join(analysis.reference) or "(no reference condition)"
    ci_note = (f"{pct} paired bootstrap CIs ({analysis.n_resamples} resamples, seed "
               f"{analysis.seed}) over the items every condition answered; a gap whose CI "
               "contains 0 is inside the noise. McNemar p per reference condition for 0/1 "
               "metrics." if analysis.has_items else
               "No per-item results were used (imported records, or a run that has not "
               "reached its summarize step), so no CIs or tests: a gap cannot be told from "
               "the noise here.")
    whole = Section("completeness", "Completeness", summary_line(analysis.completeness),
                    completeness_table(analysis.completeness))
    out = [
        Section("scores", "Scores", f"ΔS = native − mean of {ref}.",
                score_table(records, analysis.kinds, reference=analysis.reference)),
        Section("gaps", f"ΔS with {pct} CI", ci_note, _gap_table(analysis.gaps)),
        Section("correlations", "r(ΔS, S_native) per benchmark",
                "Pearson r over the (model, language) points of each arm × benchmark × metric; "
                "the paper finds it weak on structured tasks and strong on generative ones.",
                _correlation_table(analysis)),
    ]
    if analysis.round_trip:
        where = (", ".join(analysis.native_benchmarks) if analysis.native_benchmarks
                 else "every benchmark")
        out.append(Section("round-trip", "Round trip vs single pass",
                           f"Round-trip data keeps native knowledge with doubled translation "
                           f"defects; RT − SP is round trip minus the mean of {ref}. "
                           f"Benchmarks: {where}.", _round_trip_table(analysis.round_trip)))
    if analysis.arm_rows:
        out.append(Section("arms", "Arms side by side",
                           "Each condition's score and ΔS per training arm (lr, multilingual).",
                           Table(("model", "language", "benchmark", "metric", "row",
                                  *analysis.arms),
                                 tuple((a.model, a.language, a.benchmark, a.metric, a.row,
                                        *(fmt_value(a.values.get(arm)) for arm in analysis.arms))
                                       for a in analysis.arm_rows))))
    # Holes in the grid come first; a complete grid's table is reference material, so last.
    is_complete = all(c.state == "done" for c in analysis.completeness)
    return [*out, whole] if is_complete else [whole, *out]


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
    rows = tuple((c.arm, c.benchmark, c.metric, _signed(c.r), _p(c.p),
                  str(c.n)) for c in analysis.correlations)
    return Table(("arm", "benchmark", "metric", "r", "p", "n"), rows)


def _round_trip_table(rows: Sequence[RoundTrip]) -> Table:
    body = tuple((t.model, t.arm, t.language, t.benchmark, t.metric, t.condition,
                  fmt_value(t.native), fmt_value(t.single_pass), fmt_value(t.round_trip),
                  _signed(t.delta), _ci(t.paired), _noise(t.paired),
                  _signed(t.native_minus_round_trip))
                 for t in rows)
    return Table(("model", "arm", "language", "benchmark", "metric", "condition", "native",
                  "single pass", "round trip", "RT − SP", "CI", "noise", "native − RT"), body)


def render_markdown(analysis: Analysis, records: list[Record], *, title: str = "Results") -> str:
    """The report as markdown: completeness, scores with ΔS, ΔS with CIs, r, RTT, arms."""
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
    out = []
    for name, png in plots.items():
        if _PLOT_SECTION.get(name.split(".")[0].split("-")[0]) == section:
            data = base64.b64encode(png).decode("ascii")
            out.append(f'<img alt="{html.escape(name)}" src="data:image/png;base64,{data}">')
    return "".join(out)


def render_html(analysis: Analysis, records: list[Record], plots: Mapping[str, bytes], *,
                title: str = "Results") -> str:
    """One self-contained HTML page: every table, and ``plots`` (name → PNG) embedded."""
    body = [f"<h1>{html.escape(title)}</h1>"]
    for s in sections(analysis, records):
        body.append(f'<section id="{s.id}"><h2>{html.escape(s.title)}</h2>'
                    f'<p class="note">{html.escape(s.note)}</p>{_images(s.id, plots)}'
                    f"{_html_table(s)}</section>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
            f"<body>{''.join(body)}</body></html>\n")
