"""`nativejobs sources SPEC`: every benchmark source is opened before a run pays for models."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import EXAMPLES, nativejobs

pytestmark = pytest.mark.e2e


def test_the_quickstart_sources_all_load() -> None:
    out = nativejobs("sources", str(EXAMPLES / "quickstart.yaml"), env={"COLUMNS": "200"})
    assert out.returncode == 0, out.stdout + out.stderr
    assert " ok " in out.stdout and " error " not in out.stdout


def test_a_missing_benchmark_file_is_an_error_with_exit_1(tmp_path: Path) -> None:
    doc = yaml.safe_load((EXAMPLES / "quickstart.yaml").read_text())
    doc["benchmarks"][0]["path"] = str(tmp_path / "nowhere.{lang}.json")
    for bench in doc["benchmarks"][1:]:
        for field in ("path", "dev_path"):
            if field in bench:
                bench[field] = str(EXAMPLES / bench[field])
    for source in doc["data"].values():
        if isinstance(source, dict) and "path" in source:
            source["path"] = str(EXAMPLES / source["path"])
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(doc, allow_unicode=True))
    out = nativejobs("sources", str(spec), env={"COLUMNS": "250"})
    assert out.returncode == 1, out.stdout + out.stderr
    assert " error " in out.stdout and "benchmark sources do not load" in out.stderr
    assert "Traceback" not in out.stderr
