"""JSON lines, read by one loop: each caller words a bad line as its own error.

A leaf: imports only the standard library, so the planner, the steps and the report can share it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

__all__ = ["TOO_DEEP", "JsonLineError", "iter_json_lines"]

TOO_DEEP = "nested too deeply"  # the ``why`` of a line that overflows the parser's recursion


class JsonLineError(ValueError):
    """A line that does not parse as JSON; ``line`` is 1-based, ``why`` the parser's reason."""

    def __init__(self, line: int, why: str) -> None:
        super().__init__(f"line {line} is not valid JSON ({why})")
        self.line = line
        self.why = why

    @property
    def is_too_deep(self) -> bool:
        return self.why == TOO_DEEP


def iter_json_lines(text: str) -> Iterator[tuple[int, Any]]:
    """(line number, value) of each non-blank line of ``text``; values are not type-checked.

    Raises:
        JsonLineError: At the first line that is not JSON (or nests too deeply to parse).
    """
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as e:
            raise JsonLineError(n, e.msg) from None
        except RecursionError:
            raise JsonLineError(n, TOO_DEEP) from None
        yield n, value
