"""Records (+ per-item results) → a finished report in one of the output formats."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

from nativejobs.report._analysis import Analysis, Items, analyze
from nativejobs.report._completeness import CellStatus
from nativejobs.report._records import kinds_from_records, load_records
from nativejobs.report._render import render_html, render_markdown
from nativejobs.report._tables import CELL, Record, ReportInputError, render

__all__ = ["REPORT_FORMATS", "check_unique", "import_report", "report_text"]

REPORT_FORMATS = ("md", "csv", "json", "html")


def check_unique(records: Sequence[Record]) -> None:
    """Raises: ReportInputError if two records share a cell and condition (one would be lost)."""
    seen = Counter(tuple(str(r[k]) for k in (*CELL, "condition")) for r in records)
    dupes = [k for k, n in seen.items() if n > 1]
    if dupes:
        shown = "; ".join("/".join(d) for d in dupes[:5])
        raise ReportInputError(f"{len(dupes)} cell(s) have more than one record ({shown}); give "
                               "each source its own model or arm name")


def report_text(records: list[Record], kinds: Mapping[str, str], fmt: str, *,
                items: Items | None = None, completeness: Sequence[CellStatus] | None = None,
                reference: Sequence[str] | None = None,
                native_benchmarks: Sequence[str] | None = None, n_resamples: int = 10_000,
                seed: int = 0, confidence: float = 0.95, title: str = "Results") -> str:
    """The report of ``records`` in ``fmt``: md (every table), csv or json (the tidy records),
    html (the self-contained page with plots; needs the ``report`` extra).

    Raises:
        ValueError: If ``fmt`` is not one of REPORT_FORMATS.
        ReportInputError: If records repeat a cell, ``reference`` is bad, or html is asked for
            without matplotlib installed.
    """
    if fmt in ("csv", "json"):
        return render(records, kinds, fmt)
    if fmt not in REPORT_FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(REPORT_FORMATS)}")
    check_unique(records)
    analysis = analyze(records, kinds, items=items, reference=reference,
                       native_benchmarks=native_benchmarks, n_resamples=n_resamples, seed=seed,
                       confidence=confidence, completeness=completeness)
    if fmt == "md":
        return render_markdown(analysis, records, title=title)
    return html_report(analysis, records, title=title)


def html_report(analysis: Analysis, records: list[Record], *, title: str) -> str:
    """The HTML page with plots. Raises: ReportInputError if matplotlib is missing."""
    try:
        from nativejobs.report._plots import make_plots

        plots = make_plots(analysis, records)
    except ImportError as e:
        raise ReportInputError(f"the html report needs matplotlib ({e.name} is missing); "
                               "pip install 'nativejobs[report]'") from e
    return render_html(analysis, records, plots, title=title)


def import_report(paths: Sequence[str | Path], fmt: str, *,
                  kinds: Mapping[str, str] | None = None,
                  with_records: Sequence[Record] = (), title: str | None = None) -> str:
    """The report of imported record files, optionally beside records of one's own runs.

    No per-item results travel with imported records, so their gaps have no CI (the report
    says so); completeness is judged over the grid the records span.

    Args:
        paths: Record files (.csv, .json, .jsonl) in the record format.
        fmt: One of REPORT_FORMATS.
        kinds: Condition name → kind, for conditions whose rows have no ``condition_kind``
            (and overriding those that do).
        with_records: More records (e.g. a run's ``results.json``) to report beside them;
            their conditions need kinds too, in ``kinds`` or a ``condition_kind`` key.
        title: The report's title; default names the files.

    Raises:
        ReportInputError: As ``load_records``, ``kinds_from_records`` and ``report_text``.
    """
    records = [*with_records]
    for path in paths:
        records += [{**r, "source": r.get("source") or Path(path).name} for r in load_records(path)]
    condition_kinds = kinds_from_records(records, kinds)
    names = ", ".join(Path(p).name for p in paths)
    return report_text(records, condition_kinds, fmt, title=title or f"Results: {names}")
