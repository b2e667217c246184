"""Reading benchmark files; every failure becomes a StepInputError that names the file."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from nativejobs.errors import StepInputError

__all__ = ["bad_file", "csv_rows", "first_n", "read_json", "read_text", "require_dev", "require_shots"]

_T = TypeVar("_T")


def bad_file(path: str, problem: str, fix: str) -> StepInputError:
    """Build the error for a malformed benchmark file.

    Args:
        path: The file.
        problem: What is wrong, with the bad value.
        fix: What the user should do.

    Returns:
        The error, ready to raise.
    """
    return StepInputError(f"benchmark file {path}: {problem}; {fix}")


def read_text(path: str) -> str:
    """Read a UTF-8 file (a leading BOM is dropped).

    Raises:
        StepInputError: If the file is missing, unreadable or not UTF-8.
    """
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError as e:
        raise bad_file(path, "not found", "check the benchmark's path and dev_path") from e
    except UnicodeDecodeError as e:
        raise bad_file(path, f"not UTF-8 (byte {e.start})", "re-save it as UTF-8") from e
    except OSError as e:
        raise bad_file(path, f"cannot be read ({e.strerror})", "check the path") from e


def read_json(path: str) -> object:
    """Read and parse a JSON file.

    Raises:
        StepInputError: If the file cannot be read or is not valid JSON.
    """
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as e:
        where = f"line {e.lineno} column {e.colno}"
        raise bad_file(path, f"invalid JSON at {where} ({e.msg})", "fix the file") from e
    except RecursionError:
        raise bad_file(path, "JSON nested too deeply", "fix the file") from None


def csv_rows(path: str, reader: Any) -> Iterator[Any]:
    """The rows of a ``csv`` reader over ``path``.

    Raises:
        StepInputError: For csv's own errors (a field over its size limit, a NUL byte), naming
            the line.
    """
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise bad_file(path, f"line {reader.line_num + 1} is not valid CSV ({e})",
                           "fix the file") from None


def first_n(rows: Sequence[_T], limit: int | None) -> list[_T]:
    """Return the first ``limit`` rows in file order (all of them when ``limit`` is None)."""
    return list(rows if limit is None else rows[:limit])


def require_shots(shots: int, available: int, dev_path: str) -> None:
    """Check that the few-shot file holds at least ``shots`` examples.

    Raises:
        StepInputError: If it holds fewer.
    """
    if shots > available:
        raise bad_file(
            dev_path,
            f"has {available} few-shot examples but shots is {shots}",
            f"set shots to at most {available} or use a larger dev file",
        )


def require_dev(kind: str, shots: int, dev_path: str | None) -> str | None:
    """Check that few-shot examples have a file to come from.

    Args:
        kind: The benchmark kind, for the message.
        shots: Number of few-shot examples asked for.
        dev_path: The few-shot file, if any (unused when ``shots`` is 0).

    Returns:
        ``dev_path`` when ``shots`` > 0, else None.

    Raises:
        StepInputError: If ``shots`` > 0 and there is no ``dev_path``.
    """
    if not shots:
        return None
    if dev_path is None:
        raise StepInputError(
            f"benchmark kind {kind!r}: shots is {shots} but no dev_path was given; "
            "give a dev_path with the few-shot examples or set shots to 0"
        )
    return dev_path
