"""Fixtures shared by every test tier (unit, integration, e2e)."""

from __future__ import annotations

from pathlib import Path

import pytest

_REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository checkout (the directory holding pyproject.toml)."""
    return _REPO_ROOT


@pytest.fixture(scope="session")
def shared_data(repo_root: Path) -> Path:
    """Data shared between checkouts, kept next to the repo rather than in it."""
    return repo_root.parent / "shared" / "data"
