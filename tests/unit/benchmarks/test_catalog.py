"""The harness catalogue and the project's own lm-eval task YAMLs agree with the pinned harness."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import pytest

from nativejobs.benchmarks.catalog import (
    HARNESS_KINDS,
    HARNESS_VERSION,
    TASK_VERSIONS,
    harness_benchmark,
)
from nativejobs.benchmarks.harness import TASKS_DIR

lm_eval = pytest.importorskip("lm_eval")
from lm_eval.tasks._index import TaskIndex  # noqa: E402
from lm_eval.tasks._yaml_loader import load_yaml  # noqa: E402

STOCK = Path(lm_eval.__file__).parent / "tasks"
REPO = Path(__file__).resolve().parents[3]


def test_the_pinned_harness_is_the_installed_one() -> None:
    pin = re.search(r'"lm-eval==([^"]+)"', (REPO / "pyproject.toml").read_text())
    assert pin is not None, "pyproject.toml's worker extra must pin lm-eval"
    assert HARNESS_VERSION == pin.group(1) == importlib.metadata.version("lm_eval")


def test_every_project_task_yaml_loads_with_its_hooks() -> None:
    """A bad task file is an error here, never the harness's silent skip."""
    tasks = {}
    for path in sorted(TASKS_DIR.glob("**/*.yaml")):
        cfg = load_yaml(path, resolve_func=True)  # imports every !function hook
        if not path.name.startswith("_"):
            assert callable(cfg["process_results"]), path
            tasks[cfg["task"]] = cfg["metadata"]["version"]
    assert tasks == TASK_VERSIONS
    assert set(TaskIndex.build([TASKS_DIR])) >= set(TASK_VERSIONS)


@pytest.mark.parametrize("kind", HARNESS_KINDS)
def test_every_catalogue_task_is_in_its_task_folder(kind: str) -> None:
    entry = harness_benchmark(kind)
    folder = TASKS_DIR if entry.task_dir == "nativejobs" else STOCK / entry.task_dir
    index = TaskIndex.build([folder])
    assert set(entry.tasks.values()) <= set(index), sorted(set(entry.tasks.values()) - set(index))


@pytest.mark.parametrize("lang", ["es", "ru", "zh", "en", "de"])
def test_our_xquad_tasks_copy_the_harness_field_for_field(lang: str) -> None:
    ours = load_yaml(TASKS_DIR / "xquad" / f"nativejobs_xquad_{lang}.yaml", resolve_func=False)
    stock = load_yaml(STOCK / "xquad" / f"xquad_{lang}.yaml", resolve_func=False)
    fields = ("dataset_path", "dataset_name", "output_type", "validation_split", "doc_to_text",
              "doc_to_target", "target_delimiter", "generation_kwargs")
    assert {f: ours.get(f) for f in fields} == {f: stock.get(f) for f in fields}
    # One major version ahead of the stock task: our include is the paper's rule.
    assert ours["metadata"]["version"] == stock["metadata"]["version"] + 1.0


def test_the_harness_xquad_no_longer_loads_under_transformers_5() -> None:
    """Why tasks/xquad exists; when this fails, the stock task is usable again."""
    with pytest.raises(ModuleNotFoundError, match=r"transformers\.data"):
        load_yaml(STOCK / "xquad" / "xquad_es.yaml", resolve_func=True)


def test_our_tydiqa_task_keeps_the_harness_prompt_with_the_papers_shot() -> None:
    ours = load_yaml(TASKS_DIR / "tydiqa" / "nativejobs_tydiqa_ru.yaml", resolve_func=False)
    stock = load_yaml(STOCK / "tydiqa" / "tydiqa_goldp_ru.yaml", resolve_func=False)
    for f in ("dataset_path", "dataset_name", "doc_to_text", "doc_to_target", "validation_split",
              "fewshot_split", "target_delimiter"):
        assert ours[f] == stock[f], f
    assert ours["num_fewshot"] == harness_benchmark("tydiqa").shots == 1
    assert [m["metric"] for m in ours["metric_list"]] == ["exact_match", "f1", "f1_mlqa", "include"]


def test_paper_shots() -> None:
    assert {k: harness_benchmark(k).shots for k in HARNESS_KINDS} == {
        "tydiqa": 1, "cmmlu": 5, "ceval": 5, "xquad": 0, "mgsm": 5, "okapi_mmlu": 5, "mmmlu": 5}
    assert "ru" not in harness_benchmark("mmmlu").languages  # MMMLU has no Russian
    assert harness_benchmark("tydiqa").languages == ("ru",)
