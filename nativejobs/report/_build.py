"""Records (+ per-item results) → a finished report in one of the output formats."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

from nativejobs.report._analysis import Analysis, Items, analyze
from nativejobs.report._completeness import CellStatus
from nativejobs.report._pairs import pairs_from_records
from nativejobs.report._plots import make_plots
from nativejobs.report._records import kinds_from_records, load_records
from nativejobs.report._render import render_html, render_markdown
from nativejobs.report._tables import CELL, Record, ReportInputError, render

__all__ = ["REPORT_FORMATS", "WHATS", "analysis_text", "check_unique", "check_what",
           "import_report", "report_text"]

REPORT_FORMATS = ("md", "csv", "json", "html")
WHATS = ("records", "analysis")  # json: the flat records, or the analysis itself


def check_unique(records: Sequence[Record]) -> None:
    """Raises: ReportInputError if two records share a cell and condition (one would be lost)."""
    seen = Counter(tuple(str(r[k]) for k in (*CELL, "condition")) for r in records)
    dupes = [k for k, n in seen.items() if n > 1]
    if dupes:
        shown = "; ".join("/".join(d) for d in dupes[:5])
        raise ReportInputError(f"{len(dupes)} cell(s) have more than one record ({shown}); give "
                               "each source its own model or arm name")


def check_what(what: str, fmt: str) -> None:
    """Raises: ReportInputError unless ``what`` is one of WHATS and fits ``fmt``."""
    if what not in WHATS:
        raise ReportInputError(f"--what: got {what!r}; use one of {', '.join(WHATS)}")
    if what == "analysis" and fmt != "json":
        raise ReportInputError(f"--what analysis is JSON; use --format json (got {fmt}; the md "
                               "and html reports show the analysis already)")


def analysis_text(analysis: Analysis) -> str:
    """The analysis as JSON (what ``analysis.json`` holds): ΔS cells, r, CIs, RTT pairs,
    summaries, completeness or coverage."""
    return json.dumps(analysis.to_json(), ensure_ascii=False, indent=1, allow_nan=False) + "\n"


def report_text(records: list[Record], kinds: Mapping[str, str], fmt: str, *,
                what: str = "records", items: Items | None = None,
                completeness: Sequence[CellStatus] | None = None,
                reference: Sequence[str] | None = None,
                native_benchmarks: Sequence[str] | None = None,
                pairs: Mapping[str, str] | None = None, n_resamples: int = 10_000,
                seed: int = 0, confidence: float = 0.95, title: str = "Results") -> str:
    """The report of ``records`` in ``fmt``: md (every table), csv or json (the tidy records;
    json with ``what="analysis"``: the analysis), html (the self-contained page with plots).

    Raises:
        ValueError: If ``fmt`` is not one of REPORT_FORMATS.
        ReportInputError: If ``what`` does not fit ``fmt``, records repeat a cell, or
            ``reference`` or ``pairs`` is bad.
    """
    if fmt not in REPORT_FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(REPORT_FORMATS)}")
    check_what(what, fmt)
    if fmt in ("csv", "json") and what == "records":
        return render(records, kinds, fmt)
    check_unique(records)
    analysis = analyze(records, kinds, items=items, reference=reference,
                       native_benchmarks=native_benchmarks, pairs=pairs, n_resamples=n_resamples,
                       seed=seed, confidence=confidence, completeness=completeness)
    if what == "analysis":
        return analysis_text(analysis)
    if fmt == "md":
        return render_markdown(analysis, records, title=title)
    return html_report(analysis, records, title=title)


def html_report(analysis: Analysis, records: list[Record], *, title: str) -> str:
    """The HTML page with its plots (SVG, no extra package needed)."""
    return render_html(analysis, records, make_plots(analysis, records), title=title)


def import_report(paths: Sequence[str | Path], fmt: str, *,
                  kinds: Mapping[str, str] | None = None, pairs: Mapping[str, str] | None = None,
                  with_records: Sequence[Record] = (), what: str = "records",
                  title: str | None = None) -> str:
    """The report of imported record files, optionally beside records of one's own runs.

    No per-item results travel with imported records, so their gaps have no CI (the report
    says so); instead of completeness the report gives the records' coverage.

    Args:
        paths: Record files (.csv, .json, .jsonl) in the record format.
        fmt: One of REPORT_FORMATS.
        kinds: Condition name → kind, for conditions whose rows have no ``condition_kind``
            (and overriding those that do).
        pairs: Round-trip condition → its single-pass partner, over the records' ``pair``
            column.
        with_records: More records (e.g. a run's ``results.json``) to report beside them;
            their conditions need kinds too, in ``kinds`` or a ``condition_kind`` key.
        what: ``records`` or, with json, ``analysis``.
        title: The report's title; default names the files.

    Raises:
        ReportInputError: As ``load_records``, ``kinds_from_records``, ``pairs_from_records``
            and ``report_text``.
    """
    check_what(what, fmt)
    records = [*with_records]
    for path in paths:
        records += [{**r, "source": r.get("source") or Path(path).name} for r in load_records(path)]
    condition_kinds = kinds_from_records(records, kinds)
    partners = {**pairs_from_records(records), **(pairs or {})}
    names = ", ".join(Path(p).name for p in paths)
    return report_text(records, condition_kinds, fmt, what=what, pairs=partners,
                       title=title or f"Results: {names}")
