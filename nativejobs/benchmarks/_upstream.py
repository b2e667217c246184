"""Benchmark files in their upstream formats, local or on S3, read into the hub datasets' rows.

A source is a file, a folder (every data file in it) or a glob, on disk or ``s3://bucket/key``.
Formats go by extension: ``.json`` (a list of rows, or SQuAD's ``{"data": [...]}``), ``.jsonl``,
``.csv``, ``.tsv`` and ``.parquet``. Layouts (``catalog.Layout``) turn upstream rows into the
rows the harness tasks read. Every failure is a StepInputError that names the file.
"""

from __future__ import annotations

import csv
import fnmatch
import functools
import glob
import io
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from nativejobs.errors import StepInputError, StoreError
from nativejobs.json_lines import JsonLineError, iter_json_lines

__all__ = ["DATA_SUFFIXES", "bad_file", "expand", "read_rows", "read_split", "subject_of"]

DATA_SUFFIXES = (".json", ".jsonl", ".csv", ".tsv", ".parquet")
Row = dict[str, Any]


def bad_file(path: str, problem: str, fix: str) -> StepInputError:
    """The error for a malformed benchmark file: the file, what is wrong, what to do."""
    return StepInputError(f"benchmark file {path}: {problem}; {fix}")


def _csv_rows_of(path: str, reader: Any) -> Iterator[Any]:
    """The rows of a ``csv`` reader; csv's own errors (a field over its size limit, a NUL byte)
    become a StepInputError naming the line."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise bad_file(path, f"line {reader.line_num + 1} is not valid CSV ({e})",
                           "fix the file") from None


def _split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _read_bytes(uri: str) -> bytes:
    if uri.startswith("s3://"):
        from nativejobs.store import open_store

        bucket, key = _split_s3(uri)
        try:
            return open_store(f"s3://{bucket}").get_bytes(key)
        except StoreError as e:
            raise bad_file(uri, f"cannot be read ({e})", "check the benchmark's path") from e
    try:
        return Path(uri).read_bytes()
    except FileNotFoundError as e:
        raise bad_file(uri, "not found", "check the benchmark's path and dev_path") from e
    except OSError as e:
        raise bad_file(uri, f"cannot be read ({e.strerror})", "check the path") from e


def _has_magic(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def _list_s3(prefix_uri: str) -> list[str]:
    from nativejobs.store import open_store

    bucket, key = _split_s3(prefix_uri)
    try:
        return [f"s3://{bucket}/{k}" for k in open_store(f"s3://{bucket}").list(key)]
    except StoreError as e:
        raise bad_file(prefix_uri, f"cannot be listed ({e})", "check the benchmark's path") from e


def expand(source: str) -> list[str]:
    """The data files a source names, sorted: itself, a folder's data files, or a glob's matches.

    Raises:
        StepInputError: If it names no data file.
    """
    if source.startswith("s3://"):
        if _has_magic(source):
            base = source[: min(source.index(c) for c in "*?[" if c in source)].rsplit("/", 1)[0]
            found = [u for u in _list_s3(base) if fnmatch.fnmatchcase(u, source)]
        elif source.endswith(DATA_SUFFIXES):
            found = [source]
        else:
            found = [u for u in _list_s3(source.rstrip("/") + "/") if u.endswith(DATA_SUFFIXES)]
    else:
        path = Path(source)
        if _has_magic(source):
            found = [p for p in glob.glob(source, recursive=True) if Path(p).is_file()]
        elif path.is_dir():
            found = [str(p) for p in path.iterdir() if p.suffix in DATA_SUFFIXES and p.is_file()]
        else:
            found = [source]  # a missing single file is reported when it is read
    found = sorted(f for f in found if f.endswith(DATA_SUFFIXES))
    if not found:
        raise StepInputError(f"benchmark source {source}: no {'/'.join(DATA_SUFFIXES)} file found; "
                             "give a file, a folder of files or a glob")
    return found


def _csv_rows(uri: str, text: str, delimiter: str) -> list[Row]:
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    rows = []
    for row in _csv_rows_of(uri, reader):
        if None in row:
            raise bad_file(uri, f"line {reader.line_num} has more fields than the header",
                           "quote fields that contain the delimiter")
        # The unnamed first column of CMMLU/MMMLU CSVs is a row index, not data.
        rows.append({k: v for k, v in row.items() if k and not k.startswith("Unnamed")})
    return rows


def _json_rows(uri: str, text: str) -> list[Row]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise bad_file(uri, f"invalid JSON at line {e.lineno} column {e.colno} ({e.msg})",
                       "fix the file") from e
    except RecursionError:
        raise bad_file(uri, "JSON nested too deeply", "fix the file") from None
    if isinstance(doc, dict) and isinstance(doc.get("data"), list):
        return _squad_rows(uri, doc["data"])
    if not isinstance(doc, list) or not all(isinstance(r, dict) for r in doc):
        raise bad_file(uri, "is neither a list of objects nor SQuAD's {\"data\": [...]}",
                       "give rows as a JSON list, JSON lines or SQuAD v1.1 JSON")
    return doc


def _jsonl_rows(uri: str, text: str) -> list[Row]:
    rows = []
    try:
        for n, row in iter_json_lines(text):
            if not isinstance(row, dict):
                raise bad_file(uri, f"line {n} is not an object", "give one object a line")
            rows.append(row)
    except JsonLineError as e:
        problem = "is nested too deeply" if e.is_too_deep else f"is not JSON ({e.why})"
        raise bad_file(uri, f"line {e.line} {problem}", "give one object a line") from e
    return rows


@functools.lru_cache(maxsize=512)
def _cached_rows(uri: str, headerless_tsv: bool) -> tuple[Row, ...]:
    data = _read_bytes(uri)
    if uri.endswith(".parquet"):
        import pyarrow.parquet as pq

        try:
            return tuple(pq.read_table(io.BytesIO(data)).to_pylist())
        except Exception as e:  # pyarrow raises several unrelated types for a bad file
            raise bad_file(uri, f"is not parquet ({e})", "fix the file") from e
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise bad_file(uri, f"not UTF-8 (byte {e.start})", "re-save it as UTF-8") from e
    if uri.endswith(".jsonl"):
        return tuple(_jsonl_rows(uri, text))
    if uri.endswith(".json"):
        return tuple(_json_rows(uri, text))
    if uri.endswith(".tsv") and headerless_tsv:
        return tuple(_mgsm_tsv_rows(uri, text))
    return tuple(_csv_rows(uri, text, "\t" if uri.endswith(".tsv") else ","))


def read_rows(uri: str, *, headerless_tsv: bool = False) -> list[Row]:
    """The rows of one data file (SQuAD JSON flattened; read once per process).

    Raises:
        StepInputError: If the file is missing, unreadable or malformed.
    """
    if not uri.endswith(DATA_SUFFIXES):
        raise bad_file(uri, "has an unknown format", f"use one of {', '.join(DATA_SUFFIXES)}")
    return list(_cached_rows(uri, headerless_tsv))


def _squad_rows(uri: str, articles: list[Any]) -> list[Row]:
    """SQuAD v1.1 nested JSON -> the hub's flat rows (id, title, context, question, answers)."""
    rows = []
    for a, article in enumerate(articles):
        for p, para in enumerate(_get(uri, article, "paragraphs", list, f"data[{a}]")):
            where = f"data[{a}].paragraphs[{p}]"
            context = _get(uri, para, "context", str, where)
            for q, qa in enumerate(_get(uri, para, "qas", list, where)):
                at = f"{where}.qas[{q}]"
                answers = _get(uri, qa, "answers", list, at)
                rows.append({
                    "id": str(_get(uri, qa, "id", (str, int), at)),
                    "title": article.get("title", "") if isinstance(article, dict) else "",
                    "context": context,
                    "question": _get(uri, qa, "question", str, at),
                    "answers": {"text": [_get(uri, x, "text", str, f"{at}.answers") for x in answers],
                                "answer_start": [_start(uri, x, f"{at}.answers") for x in answers]},
                })
    return rows


def _start(uri: str, answer: Any, where: str) -> int:
    try:
        return int(answer.get("answer_start", -1))  # type: ignore[union-attr]
    except (AttributeError, TypeError, ValueError, OverflowError):
        raise bad_file(uri, f"{where}.answer_start is not a whole number",
                       "use SQuAD v1.1 format") from None


def _get(uri: str, obj: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, kind):
        raise bad_file(uri, f"{where}.{key} is missing or of the wrong type", "use SQuAD v1.1 format")
    return value


def _mgsm_tsv_rows(uri: str, text: str) -> list[Row]:
    """url-nlp's headerless MGSM TSV (question, number) -> the hub's test rows."""
    reader = csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
    rows = []
    for fields in _csv_rows_of(uri, reader):
        if not fields:
            continue
        if len(fields) != 2:
            raise bad_file(uri, f"line {reader.line_num} has {len(fields)} tab-separated fields, "
                           "not 2", "each line must be: question<TAB>numeric answer")
        rows.append({"question": fields[0], "answer": None,
                     "answer_number": _number(uri, reader.line_num, fields[1]),
                     "equation_solution": None})
    return rows


def _number(uri: str, line: int, text: str) -> int | float:
    try:
        value = float(text.replace(",", ""))
    except ValueError as e:
        raise bad_file(uri, f"line {line} has answer {text!r}, not a number",
                       "put the numeric answer in the second column") from e
    return int(value) if value.is_integer() else value


def _mgsm_exemplar(uri: str, i: int, row: Row) -> Row:
    if {"question", "answer", "answer_number"} <= row.keys():
        return row  # already the hub's shape
    if not isinstance(row.get("q"), str) or not isinstance(row.get("a"), str):
        raise bad_file(uri, f"exemplar [{i}] lacks string 'q' and 'a'",
                       "give url-nlp exemplars {q, a, number_answer} or hub rows")
    return {"question": row["q"], "answer": row["a"],
            "answer_number": _number(uri, i, str(row.get("number_answer", ""))),
            "equation_solution": None}


def read_split(uris: Iterable[str], layout: str) -> list[Row]:
    """Rows of one split from its files, in file order, shaped as the hub's rows.

    Raises:
        StepInputError: If a file is unreadable or malformed, or the split has no rows.
    """
    uris = list(uris)
    rows: list[Row] = []
    for uri in uris:
        file_rows = read_rows(uri, headerless_tsv=layout == "mgsm")
        if layout == "mgsm" and not uri.endswith(".tsv"):
            file_rows = [_mgsm_exemplar(uri, i, r) for i, r in enumerate(file_rows)]
        if layout == "squad" and file_rows and "context" not in file_rows[0]:
            raise bad_file(uri, "holds no SQuAD questions", "give SQuAD v1.1 JSON or hub rows")
        rows += file_rows
    if not rows:
        raise StepInputError(f"benchmark files {', '.join(uris)} hold no rows; give non-empty files")
    return rows


def subject_of(uri: str, suffix: str = "") -> str:
    """The subject a per-subject file holds: its stem, less a split suffix (``_val``)."""
    stem = uri.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return stem.removesuffix(suffix) if suffix else stem
