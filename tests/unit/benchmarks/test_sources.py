"""check_sources: every configured source tried, problems reported (never raised)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from nativejobs.benchmarks.sources import check_sources, hub_script_problem
from nativejobs.spec import parse_spec
from tests.unit.builders import make_spec

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "benchmarks"


def spec_with(*benchmarks: dict[str, Any], languages: Sequence[str] = ("zh",)) -> Any:
    return parse_spec(make_spec(languages=list(languages), benchmarks=list(benchmarks)))


def no_hub(repo: str, revision: str | None) -> list[str]:
    raise AssertionError(f"no hub call expected ({repo})")


def test_files_that_load_are_ok_with_their_row_counts(data: Path) -> None:
    spec = spec_with(
        {"name": "cmmlu", "kind": "cmmlu", "path": str(data / "cmmlu/test/a*.csv"),
         "dev_path": str(data / "cmmlu/dev")},
        {"name": "mt", "kind": "okapi_mmlu", "path": str(FIXTURES / "m_mmlu/{lang}/test.jsonl"),
         "dev_path": str(FIXTURES / "m_mmlu/{lang}/train.jsonl")},
        {"name": "qa", "kind": "xquad", "path": str(data / "xquad/xquad.{lang}.json")})
    checks = check_sources(spec, list_hub_files=no_hub)
    assert [(c.benchmark, c.split, c.status) for c in checks] == [
        ("cmmlu", "test", "ok"), ("cmmlu", "dev", "ok"), ("mt", "test", "ok"), ("mt", "train", "ok"),
        ("qa", "validation", "ok")]
    assert (checks[0].files, checks[0].rows) == (5, 169 + 148 + 164 + 160 + 165)
    assert "5 of 67 subjects" in checks[0].message
    assert checks[4].rows == 1190


def test_problems_are_reported_one_check_each(data: Path, write: Any) -> None:
    wrong_fields = write("test.jsonl", '{"question": "q", "A": "a"}\n')
    spec = spec_with(
        {"name": "broken", "kind": "mgsm", "shots": 0, "path": write("mgsm.tsv", "no tab here\n")},
        {"name": "fields", "kind": "okapi_mmlu", "path": wrong_fields, "shots": 0},
        {"name": "subject", "kind": "cmmlu", "shots": 0,
         "path": str(FIXTURES / "mmmlu/test/mmlu_ZH-CN.csv")},
        {"name": "missing", "kind": "xquad", "path": "/no/such/xquad.json"})
    checks = {c.benchmark: c for c in check_sources(spec, list_hub_files=no_hub)}
    assert all(c.status == "error" and not c.ok for c in checks.values())
    assert "1 tab-separated fields, not 2" in checks["broken"].message
    assert "lacks instruction, option_a" in checks["fields"].message
    assert "mmlu_ZH-CN is not cmmlu subjects" in checks["subject"].message
    assert "not found" in checks["missing"].message


@pytest.mark.parametrize(("files", "status", "text"), [
    pytest.param(["README.md", "cmmlu.py", "cmmlu_v1_0_1.zip"], "error", "refuses", id="script"),
    pytest.param(["README.md", "agronomy/test-00000-of-00001.parquet"], "ok", "no loading script",
                 id="parquet"),
])
def test_hub_ids_are_checked_for_loading_scripts(files: list[str], status: str, text: str) -> None:
    seen: list[tuple[str, str | None]] = []

    def lister(repo: str, revision: str | None) -> list[str]:
        seen.append((repo, revision))
        return files

    (check,) = check_sources(spec_with({"name": "cmmlu", "kind": "cmmlu"}), list_hub_files=lister)
    assert seen == [("haonan-li/cmmlu", None)]
    assert (check.split, check.source, check.status) == ("hub", "haonan-li/cmmlu", status)
    assert text in check.message


def test_an_unreachable_hub_is_unchecked_not_an_error() -> None:
    def offline(repo: str, revision: str | None) -> list[str]:
        raise ConnectionError("no network")

    spec = spec_with({"name": "ht", "kind": "mmmlu", "revision": "main"}, languages=("es", "zh"))
    checks = check_sources(spec, list_hub_files=offline)
    assert [(c.language, c.status, c.source) for c in checks] == [
        ("es", "unchecked", "openai/MMMLU@main"), ("zh", "unchecked", "openai/MMMLU@main")]
    assert all(c.ok for c in checks) and "no network" in checks[0].message


def test_hub_script_rule() -> None:
    assert hub_script_problem("x/y", ["y.py"]) is not None
    assert hub_script_problem("x/y", ["y.py", "data/test.parquet"]) is None
    assert hub_script_problem("x/y", ["README.md"]) is None
