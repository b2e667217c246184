"""Reading a run's results from the store: per-item predictions for the summarize step, and the
report of a run (finished: its stored outputs; failed part-way: rebuilt with completeness)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from nativejobs.errors import StoreNotFoundError
from nativejobs.report._analysis import ItemKey
from nativejobs.report._build import REPORT_FORMATS, check_what, report_text
from nativejobs.report._completeness import cell_chains, completeness, failures_from_attempts, summary_line
from nativejobs.report._pairs import pairs_from_conditions
from nativejobs.report._tables import Record, render
from nativejobs.runs import Attempt, RunRecord, done_keys
from nativejobs.store import Store, step_dir

__all__ = ["load_items", "run_records", "run_results"]

# Summarize outputs by format; json and csv are re-rendered from results.json.
_STORED = {"md": "results.md", "html": "report.html"}


def predictions_path(evaluate_key: str, benchmark: str) -> str:
    return f"{step_dir('evaluate', evaluate_key)}/predictions/{benchmark}.jsonl"


def judge_items_path(judge_key: str, benchmark: str) -> str:
    return f"{step_dir('judge', judge_key)}/items/{benchmark}.jsonl"


def _kept(rows: Sequence[Mapping[str, Any]], metrics: set[str]) -> list[dict[str, Any]]:
    # Keep only what the statistics need: prompts of a 5-shot benchmark are large.
    return [{"id": row["id"], **{m: row[m] for m in metrics if m in row}} for row in rows]


def _merge(items: dict[ItemKey, list[dict[str, Any]]], key: ItemKey,
           rows: list[dict[str, Any]]) -> None:
    """Add per-item metric values under ``key``, joined by id to the rows already there."""
    if key not in items:
        items[key] = rows
        return
    by_id = {str(r["id"]): r for r in items[key]}
    for row in rows:
        if str(row["id"]) in by_id:
            by_id[str(row["id"])].update(row)
        else:
            items[key].append(row)


def load_items(store: Store, cells: Sequence[Mapping[str, str]],
               cell_records: Sequence[Sequence[Record]], *,
               judged: Sequence[Mapping[str, str]] = (),
               judge_records: Sequence[Sequence[Record]] = ()) -> dict[ItemKey, list[dict[str, Any]]]:
    """Per-item rows of every evaluated cell, kept to ``id`` and the records' metrics.

    Args:
        store: The store holding the evaluate and judge steps' outputs.
        cells: ``{evaluate, model, language, condition, arm}`` per cell (summarize's params).
        cell_records: Each cell's ``records.json`` rows (benchmark, metric, ...).
        judged: ``{evaluate, judge}`` per judge step (summarize's params); a cell gets the
            per-item ratings of every judge step of its evaluate step.
        judge_records: Each judge step's ``records.json`` rows, aligned with ``judged``.

    Raises:
        StoreNotFoundError: If a benchmark's predictions (or a judge's items) file is missing.
    """
    items: dict[ItemKey, list[dict[str, Any]]] = {}
    for cell, rows in zip(cells, cell_records, strict=True):
        for bench in dict.fromkeys(r["benchmark"] for r in rows):
            metrics = {r["metric"] for r in rows if r["benchmark"] == bench}
            key = (cell["model"], cell["arm"], cell["language"], cell["condition"], bench)
            _merge(items, key, _kept(store.get_jsonl(predictions_path(cell["evaluate"], bench)), metrics))
    for judgement, rows in zip(judged, judge_records, strict=True):
        for bench in dict.fromkeys(r["benchmark"] for r in rows):
            metrics = {r["metric"] for r in rows if r["benchmark"] == bench}
            kept = _kept(store.get_jsonl(judge_items_path(judgement["judge"], bench)), metrics)
            for cell in (c for c in cells if c["evaluate"] == judgement["evaluate"]):
                key = (cell["model"], cell["arm"], cell["language"], cell["condition"], bench)
                _merge(items, key, [dict(r) for r in kept])
    return items


def run_records(store: Store, steps: Sequence[Mapping[str, Any]],
                done_keys: set[str]) -> list[Record]:
    """The records of every done evaluate and judge step of a run, joined with the cell's labels."""
    scored = [s for s in steps if s["kind"] in ("evaluate", "judge") and s["key"] in done_keys]
    stored = store.map(lambda s: store.get_json(f"{step_dir(s['kind'], s['key'])}/records.json"), scored)
    records: list[Record] = []
    for s, rows in zip(scored, stored, strict=True):
        labels = {k: s["labels"][k] for k in ("model", "language", "condition", "arm")}
        records += [{**labels, **row, f"{s['kind']}_key": s["key"]} for row in rows]
    return records


def run_results(store: Store, run: RunRecord | Mapping[str, Any], fmt: str, *, what: str = "records",
                attempts: Mapping[str, Sequence[Attempt | Mapping[str, Any]]] | None = None) -> str:
    """The results of a run (``runs/<name>/run.json``) in ``fmt`` (one of REPORT_FORMATS).

    A finished run gives its summarize step's outputs. A run that stopped part-way gives a
    report rebuilt from the cells that are done (no CIs: those need the summarize step) with
    the completeness table: every cell done, failed (step, why) or not run.

    Args:
        store: The run's store.
        run: The run record (or its ``run.json`` document): name, spec, summary ref, steps.
        fmt: md, csv, json or html.
        what: ``records`` or, with json, ``analysis`` (a finished run's ``analysis.json``).
        attempts: ``RunState.attempts()`` (step key → attempts), for why steps failed.

    Raises:
        ValueError: If ``fmt`` is unknown.
        StoreNotFoundError: If a finished run's output is missing from the store.
        ArtifactDamagedError: If it does not match its marker (which is moved aside, so that
            submitting the spec again recomputes it).
        ReportInputError: As ``report_text`` (``what`` analysis without json).
    """
    if fmt not in REPORT_FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(REPORT_FORMATS)}")
    check_what(what, fmt)
    run = run if isinstance(run, RunRecord) else RunRecord.from_json(run)
    kind, _, key = run.summary.partition("/")
    conditions = run.spec["conditions"]
    kinds = {c["name"]: c["kind"] for c in conditions}
    if (marker := store.get_marker(kind, key)) is not None:
        name = "analysis.json" if what == "analysis" else _STORED.get(fmt, "results.json")
        try:  # checked against the marker: a damaged output is an error, never printed
            text = store.read_vouched(kind, key, name, marker=marker).decode("utf-8")
        except StoreNotFoundError as e:
            raise StoreNotFoundError(f"run {run.name!r} was summarized without {name} (an older "
                                     "nativejobs); submit its spec again to rebuild the report") from e
        return text if fmt in _STORED or what == "analysis" else render(json.loads(text), kinds, fmt)
    steps = [s.to_json() for s in run.steps if s.kind != kind]
    done = done_keys(store, [s for s in run.steps if s.kind != kind])  # stale markers are not done
    tried = {k: [a if isinstance(a, Mapping) else asdict(a) for a in v] for k, v in (attempts or {}).items()}
    status = completeness(cell_chains(steps), done, failures_from_attempts(tried, done))
    records = run_records(store, steps, done)
    title = f"{run.name}: incomplete run ({summary_line(status)})"
    return report_text(records, kinds, fmt, what=what, completeness=status, title=title,
                       pairs=pairs_from_conditions(conditions))
