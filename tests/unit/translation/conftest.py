"""Fixtures for the translation tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from nativejobs.store import FileStore, Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return FileStore(tmp_path / "store")
