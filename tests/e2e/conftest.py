"""End-to-end fixtures: the real CLI in subprocesses, the quickstart model, a temp store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


def nativejobs(*args: str, env: dict[str, str] | None = None,
               timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user would, in a subprocess."""
    return subprocess.run([sys.executable, "-m", "nativejobs", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})}, cwd=REPO)


def tiny_spec(store: Path, **overrides: Any) -> dict[str, Any]:
    """The quickstart reduced to one language and a few items: same steps, engines and CLI."""
    doc = yaml.safe_load((EXAMPLES / "quickstart.yaml").read_text())
    doc.update(name="tiny", store=str(store), languages=["es"])
    doc["data"].update(size=2)
    for source in doc["data"].values():
        if isinstance(source, dict) and "path" in source:
            source["path"] = str(EXAMPLES / source["path"])
    doc["engines"]["smol"].update(max_new_tokens=16)
    doc["training"].update(epochs=1, heldout_fraction=0.5, effective_batch_size=1,
                           micro_batch_size=1)
    limits = {"xquad": 2, "mgsm": 1, "mc": 3}
    for bench in doc["benchmarks"]:
        bench["limit"] = limits[bench["name"]]
        bench["path"] = str(EXAMPLES / bench["path"])
        if "dev_path" in bench:
            bench["dev_path"] = str(EXAMPLES / bench["dev_path"])
    bench_mgsm = next(b for b in doc["benchmarks"] if b["name"] == "mgsm")
    bench_mgsm["max_new_tokens"] = 32
    doc.update(overrides)
    return doc


@pytest.fixture
def write_spec(tmp_path: Path):  # type: ignore[no-untyped-def]
    def write(doc: dict[str, Any], name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(doc, allow_unicode=True))
        return path

    return write
