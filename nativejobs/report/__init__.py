"""Results of a study: tidy records → ΔS, paired CIs, r, completeness; md, csv, json and html.

The pieces, each usable alone::

    load_records(path)                      record files (csv/json) → records   (_records)
    gaps(records, kinds)                    ΔS per cell                          (_tables)
    paired_bootstrap_ci, mcnemar, pearson   the statistics                       (_stats)
    analyze(records, kinds, items=...)      → Analysis (what analysis.json holds) (_analysis)
    delta_summaries, model_means, mt_vs_ht  the paper's summary views            (_summaries)
    pairs_from_conditions, ..._records      round trip → its single-pass partner (_pairs)
    cell_chains, completeness               which cells are done/failed/not run  (_completeness)
    record_coverage                         which conditions records have        (_completeness)
    render_markdown, render_html            Analysis → text                      (_render)
    make_plots(analysis, records)           → {name: SVG bytes}                  (_plots, _svg)
    report_text, import_report              records → a report in one format     (_build)
    load_items, run_results                 reading a run from the store         (_store)

The controller stays light: numpy (bootstrap CIs, extra ``report``) is imported inside the
function that needs it; the reports (md, csv, json, html with its SVG plots) need nothing more.
"""

from __future__ import annotations

from nativejobs.report._analysis import (
    Analysis,
    ArmRow,
    Correlation,
    Gap,
    Items,
    McNemarTest,
    Paired,
    Point,
    RoundTrip,
    analyze,
)
from nativejobs.report._build import (
    REPORT_FORMATS,
    WHATS,
    analysis_text,
    check_unique,
    check_what,
    import_report,
    report_text,
)
from nativejobs.report._completeness import (
    Cell,
    CellStatus,
    Coverage,
    cell_chains,
    completeness,
    completeness_table,
    coverage_table,
    failures_from_attempts,
    record_coverage,
    summary_line,
)
from nativejobs.report._pairs import check_pairs, pairs_from_conditions, pairs_from_records
from nativejobs.report._plots import make_plots
from nativejobs.report._records import REQUIRED, kinds_from_records, load_records
from nativejobs.report._render import render_html, render_markdown
from nativejobs.report._stats import discordant_pairs, mcnemar, paired_bootstrap_ci, pearson
from nativejobs.report._store import load_items, run_records, run_results
from nativejobs.report._summaries import DeltaSummary, ModelMean, MtHt, RoundTripSummary
from nativejobs.report._tables import (
    FORMATS,
    KINDS,
    ReportInputError,
    Table,
    gaps,
    reference_conditions,
    render,
    score_table,
)

__all__ = [
    "FORMATS", "KINDS", "REPORT_FORMATS", "REQUIRED", "WHATS", "Analysis", "ArmRow", "Cell",
    "CellStatus", "Correlation", "Coverage", "DeltaSummary", "Gap", "Items", "McNemarTest",
    "ModelMean", "MtHt", "Paired", "Point", "ReportInputError", "RoundTrip", "RoundTripSummary",
    "Table", "analysis_text", "analyze", "cell_chains", "check_pairs", "check_unique",
    "check_what", "completeness", "completeness_table", "coverage_table", "discordant_pairs",
    "failures_from_attempts", "gaps", "import_report", "kinds_from_records", "load_items",
    "load_records", "make_plots", "mcnemar", "paired_bootstrap_ci", "pairs_from_conditions",
    "pairs_from_records", "pearson", "record_coverage", "reference_conditions", "render",
    "render_html", "render_markdown", "report_text", "run_records", "run_results",
    "score_table", "summary_line",
]
