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

from nativejobs.errors import short_repr, short_text
from nativejobs.json_lines import JsonLineError, iter_json_lines
from nativejobs.report._tables import KINDS, Record, ReportInputError

__all__ = ["LABELS", "REQUIRED", "kinds_from_records", "load_records"]

LABELS = ("model", "language", "condition", "arm", "benchmark", "metric")
REQUIRED = (*LABELS, "score", "n")
_MAX_PROBLEMS = 20
MAX_RECORD_BYTES = 64 * 2**20  # a record file is a table of scores: MBs at most, never endless
# Metrics that are proportions: a score outside [0, 1] is a percentage or a typo.
_PROPORTIONS = ("acc", "acc_norm", "exact_match", "em", "f1", "include", "mlqa_f1")


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
    rows = list(_rows(path, _read_text(path)))
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


def _read_text(path: Path) -> str:
    """The file as text: UTF-8, at most MAX_RECORD_BYTES (``/dev/zero`` is refused, not read)."""
    where = short_text(str(path))
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_RECORD_BYTES + 1)
    except OSError as e:
        raise ReportInputError(f"{where}: cannot read the record file ({e.strerror or e})") from e
    if len(data) > MAX_RECORD_BYTES:
        raise ReportInputError(f"{where}: larger than {MAX_RECORD_BYTES // 2**20} MiB; is it a "
                               "record file?")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ReportInputError(f"{where}: line {line} is not UTF-8 (byte {e.start}); save the "
                               "file as UTF-8") from None


def _csv_rows(path: Path, text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(text.splitlines())
    try:
        return list(reader)
    except csv.Error as e:  # a field over csv's limit, a NUL byte
        raise ReportInputError(f"{short_text(str(path))}: line {reader.line_num + 1} is not valid CSV "
                               f"({short_text(str(e))})") from None


def _json_doc(path: Path, text: str, suffix: str) -> Any:
    where = short_text(str(path))
    if suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise ReportInputError(f"{where}: not valid JSON (line {e.lineno}: {e.msg})") from None
        except RecursionError:
            raise ReportInputError(f"{where}: JSON nested too deeply for a record file") from None
    try:
        return [row for _, row in iter_json_lines(text)]
    except JsonLineError as e:
        problem = "is nested too deeply" if e.is_too_deep else f"is not valid JSON ({e.why})"
        raise ReportInputError(f"{where}: line {e.line} {problem}") from None


def _rows(path: Path, text: str) -> Iterator[dict[str, Any]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        yield from _csv_rows(path, text)
        return
    if suffix not in (".json", ".jsonl"):
        raise ReportInputError(f"{short_text(str(path))}: unknown record file type "
                               f"{short_repr(suffix or '(none)', 20)}; use .csv, .json or .jsonl")
    doc = _json_doc(path, text, suffix)
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
        except (TypeError, ValueError, OverflowError):
            problems.append(f"score: got {short_repr(row['score'])}; must be a finite number")
        else:
            problems += _range_problems(record)
    if row.get("n") not in (None, ""):
        try:
            n = float(row["n"])
            if not n.is_integer() or n < 1:
                raise ValueError
            record["n"] = int(n)
        except (TypeError, ValueError, OverflowError):
            problems.append(f"n: got {short_repr(row['n'])}; must be a whole number of items >= 1")
    return record, problems


def _range_problems(record: Record) -> list[str]:
    metric, score = str(record.get("metric", "")), record["score"]
    proportion = metric in _PROPORTIONS or metric.startswith(tuple(f"{m}_" for m in _PROPORTIONS))
    if proportion and not 0 <= score <= 1:
        return [f"score: got {score!r}; metric {short_text(metric, 40)} is a proportion in "
                "[0, 1] (give 0.412, not 41.2)"]
    return []
