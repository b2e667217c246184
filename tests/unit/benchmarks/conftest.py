"""Shared fixtures: the real benchmark files under shared/data, and a writer for broken ones."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

# The repo sits next to shared/ (…/main/tests/unit/benchmarks -> …/shared/data).
DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"


@pytest.fixture
def data() -> Path:
    """The shared benchmark data directory; a missing one fails the test with its path."""
    assert DATA.is_dir(), f"benchmark data not found at {DATA}"
    return DATA


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], str]:
    """Write a UTF-8 file under tmp_path and return its path as a string."""

    def _write(name: str, text: str) -> str:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    return _write
