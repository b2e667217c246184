"""Fixtures shared by every test tier (unit, integration, e2e)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.data import require_data

_REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository checkout (the directory holding pyproject.toml)."""
    return _REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The public test data (tests/data.py): ``$NATIVEJOBS_TEST_DATA``, else ``../shared/data``.

    A missing folder fails the test with a message naming the variable and scripts/test-data.sh.
    """
    return require_data()
