"""Where tests find the public test data (Aya, XQuAD, MGSM, CMMLU, C-Eval, open QA).

One place decides: ``$NATIVEJOBS_TEST_DATA`` if set, else ``../shared/data`` next to the
checkout. Either folder is laid out as ``shared/data/MANIFEST.md`` describes (``aya/``,
``xquad/``, ``mgsm/``, ``cmmlu/``, ``ceval/``, ``openqa/``); ``scripts/test-data.sh DIR``
downloads the same public files into DIR. Tests take the ``shared_data`` fixture
(tests/conftest.py); code that runs at import time (a module constant, a parametrize list)
takes :func:`data_root` and checks with :func:`require_data` once a test runs.

A missing folder fails the test, naming the variable and the script: a skip would let a
CI without the data pass while testing nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

__all__ = ["DATASETS", "ENV", "FETCH", "data_root", "missing_message", "require_data"]

ENV = "NATIVEJOBS_TEST_DATA"
FETCH = "scripts/test-data.sh"
# The dataset folders of the layout; each must exist and hold files.
DATASETS = ("aya", "xquad", "mgsm", "cmmlu", "ceval", "openqa")
_REPO_ROOT = Path(__file__).resolve().parent.parent


def data_root() -> Path:
    """The test data folder: ``$NATIVEJOBS_TEST_DATA`` if set, else ``../shared/data``.

    Not checked: call :func:`require_data` (or take the ``shared_data`` fixture) in the test.
    """
    given = os.environ.get(ENV, "").strip()
    if given:
        return Path(given).expanduser().resolve()
    return _REPO_ROOT.parent / "shared" / "data"


def missing_message(root: Path, missing: list[str]) -> str:
    """What a test says when the data is not there: where it looked, and both ways to fix it."""
    origin = f"from {ENV}" if os.environ.get(ENV, "").strip() else f"the default; {ENV} is unset"
    return (f"public test data not found under {root} ({origin}): missing {', '.join(missing)}. "
            f"Download it with `{FETCH} DIR` and set {ENV}=DIR, or point {ENV} at a folder "
            "laid out as shared/data/MANIFEST.md describes.")


def require_data(*parts: str) -> Path:
    """``data_root() / parts``, failing the calling test if it does not exist.

    With no ``parts``, every dataset folder of :data:`DATASETS` must exist and hold files.

    Raises:
        pytest.fail.Exception: the path (or a dataset folder) is missing.
    """
    root = data_root()
    if parts:
        path = root.joinpath(*parts)
        if not path.exists():
            pytest.fail(missing_message(root, ["/".join(parts)]), pytrace=False)
        return path
    missing = [d for d in DATASETS if not (root / d).is_dir() or not any((root / d).iterdir())]
    if missing:
        pytest.fail(missing_message(root, missing), pytrace=False)
    return root
