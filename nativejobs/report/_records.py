"""Import of result records produced elsewhere (published numbers, another harness).

The record format (DESIGN.md, "Result records"): one flat row per model, language, condition,
arm, benchmark and metric, with the score and the number of items it is the mean of::

    model,language,condition,arm,benchmark,metric,score,n,condition_kind
    llama-2-7b,es,native,lr-1e-4,xquad,exact_match,0.412,1190,native
    llama-2-7b,es,google,lr-1e-4,xquad,exact_match,0.371,1190,translated

JSON files hold the same rows as a list of objects (or ``{"records": [...]}``); ``.jsonl``
holds one object a line. ``condition_kind`` (native, translated or round_trip) is optional per
row; ``kinds_from_records`` needs it, or explicit kinds, for every condition. Other columns are
kept as they are.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from nativejobs.report._tables import KINDS, Record, ReportInputError

__all__ = ["LABELS", "REQUIRED", "kinds_from_records", "load_records"]

LABELS = ("model", "language", "condition", "arm", "benchmark", "metric")
REQUIRED = (*LABELS, "score", "n")
_MAX_PROBLEMS = 20


def load_records(path: str | Path) -> list[Record]:
    """Read result records from a ``.csv``, ``.json`` or ``.jsonl`` file.

    Every problem is reported at once, one line each, naming the file, the row (1-based, data
    rows only) and the key: ``results.csv: row 3: missing key 'score'``.

    Returns:
        The records: labels as strings, ``score`` a float, ``n`` an int, other keys untouched.

    Raises:
        ReportInputError: If the file cannot be read, has an unknown suffix, holds no records,
            or a row lacks a required key or has a bad value.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise ReportInputError(f"{path}: cannot read the record file ({e.strerror or e})") from e
    rows = list(_rows(path, text))
    if not rows:
        raise ReportInputError(f"{path}: no records; expected rows with {', '.join(REQUIRED)}")
    records, problems = [], []
    for i, row in enumerate(rows, 1):
        record, row_problems = _check_row(row)
        records.append(record)
        problems += [f"{path}: row {i}: {p}" for p in row_problems]
    if problems:
        more = len(problems) - _MAX_PROBLEMS
        raise ReportInputError("\n".join(problems[:_MAX_PROBLEMS]
                                         + ([f"... and {more} more"] if more > 0 else [])))
    return records


def kinds_from_records(records: list[Record], overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """Condition name → kind, from each row's ``condition_kind`` and ``overrides`` (which win).

    Raises:
        ReportInputError: If a condition has no kind, two kinds, or a kind outside
            native, translated, round_trip.
    """
    overrides = dict(overrides or {})
    problems = [f"kind {k!r} of condition {c!r} is not one of {', '.join(KINDS)}"
                for c, k in overrides.items() if k not in KINDS]
    seen: dict[str, set[str]] = {}
    for r in records:
        kinds = seen.setdefault(r["condition"], set())
        if r.get("condition_kind") not in (None, ""):
            kinds.add(str(r["condition_kind"]))
    out: dict[str, str] = {}
    for condition, kinds in seen.items():
        if condition in overrides:
            out[condition] = overrides[condition]
        elif len(kinds) == 1 and (kind := next(iter(kinds))) in KINDS:
            out[condition] = kind
        elif len(kinds) == 1:
            problems.append(f"condition {condition!r}: condition_kind {kind!r} is not one of "
                            f"{', '.join(KINDS)}")
        elif kinds:
            problems.append(f"condition {condition!r} has several kinds in the records: "
                            f"{', '.join(sorted(kinds))}; give it one")
        else:
            problems.append(f"condition {condition!r} has no kind; add a condition_kind column "
                            f"({', '.join(KINDS)}) or pass {condition}=KIND")
    if problems:
        raise ReportInputError("\n".join(problems))
    return out


def _rows(path: Path, text: str) -> Iterator[dict[str, Any]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        yield from csv.DictReader(text.splitlines())
        return
    if suffix not in (".json", ".jsonl"):
        raise ReportInputError(f"{path}: unknown record file type {suffix or '(none)'!r}; "
                               "use .csv, .json or .jsonl")
    try:
        doc: Any = ([json.loads(line) for line in text.splitlines() if line.strip()]
                    if suffix == ".jsonl" else json.loads(text))
    except json.JSONDecodeError as e:
        raise ReportInputError(f"{path}: not valid JSON (line {e.lineno}: {e.msg})") from e
    if isinstance(doc, dict) and isinstance(doc.get("records"), list):
        doc = doc["records"]
    if not isinstance(doc, list) or not all(isinstance(r, dict) for r in doc):
        raise ReportInputError(f"{path}: expected a list of record objects "
                               "(or {\"records\": [...]})")
    yield from doc


def _check_row(row: dict[str, Any]) -> tuple[Record, list[str]]:
    """The row with typed score and n, and its problems (empty when it is a valid record)."""
    record, problems = {k: v for k, v in row.items() if k is not None}, []
    if None in row:  # csv.DictReader puts values beyond the header under None
        problems.append(f"{len(row[None])} more value(s) than the header has columns")
    for key in REQUIRED:
        if row.get(key) in (None, ""):
            problems.append(f"missing key {key!r}" if key not in row or row[key] is None
                            else f"{key}: empty; give a value")
    for key in LABELS:
        if row.get(key) not in (None, ""):
            record[key] = str(row[key])
    if row.get("score") not in (None, ""):
        try:
            record["score"] = float(row["score"])
            if not math.isfinite(record["score"]):
                raise ValueError
        except (TypeError, ValueError):
            problems.append(f"score: got {row['score']!r}; must be a finite number")
    if row.get("n") not in (None, ""):
        try:
            n = float(row["n"])
            if not n.is_integer() or n < 1:
                raise ValueError
            record["n"] = int(n)
        except (TypeError, ValueError):
            problems.append(f"n: got {row['n']!r}; must be a whole number of items >= 1")
    return record, problems
