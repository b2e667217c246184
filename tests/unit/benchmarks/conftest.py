"""Shared fixtures: the real benchmark files (the public test data), and a writer for broken ones."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def data(shared_data: Path) -> Path:
    """The public benchmark data (tests/data.py: $NATIVEJOBS_TEST_DATA, else ../shared/data)."""
    return shared_data


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], str]:
    """Write a UTF-8 file under tmp_path and return its path as a string."""

    def _write(name: str, text: str) -> str:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    return _write
