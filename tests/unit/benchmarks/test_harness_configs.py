"""The generated lm-eval group configs: members, data sources, shots, caps; and the tasks the
harness builds from them. No model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from nativejobs.benchmarks.harness import HarnessBenchmarkRun, check_runs, write_configs
from nativejobs.errors import StepInputError

pytest.importorskip("lm_eval")

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "benchmarks"


def config(tmp_path: Path, run: HarnessBenchmarkRun) -> dict[str, Any]:
    path = write_configs([run], tmp_path)[run.name]
    return yaml.safe_load(path.read_text(encoding="utf-8").replace("!function ", ""))


def build(tmp_path: Path, *runs: HarnessBenchmarkRun) -> dict[str, Any]:
    """The harness's own Task objects built from the generated configs (data read, no model)."""
    from lm_eval.tasks import TaskManager

    from nativejobs.benchmarks.harness import _task_dirs

    write_configs(list(runs), tmp_path)
    manager = TaskManager(include_path=[*_task_dirs(list(runs)), tmp_path], include_defaults=False)
    return manager.load([r.group for r in runs])


def test_cmmlu_folder_covers_every_subject_with_its_dev_file(tmp_path: Path, data: Path) -> None:
    run = HarnessBenchmarkRun("cmmlu", "cmmlu", "zh", 5, path=str(data / "cmmlu" / "test"),
                              dev_path=str(data / "cmmlu" / "dev"))
    cfg = config(tmp_path, run)
    assert cfg["group"] == "nativejobs_benchmark_cmmlu"
    assert len(cfg["task"]) == 67
    first = cfg["task"][0]
    assert first["task"] == "cmmlu_agronomy" and first["num_fewshot"] == 5
    assert first["custom_dataset"] == "nativejobs.benchmarks.hooks.load_files"
    assert first["dataset_kwargs"] == {"layout": "hf", "sources": {
        "test": [str(data / "cmmlu" / "test" / "agronomy.csv")],
        "dev": [str(data / "cmmlu" / "dev" / "agronomy.csv")]}}
    assert cfg["aggregate_metric_list"] == [
        {"metric": m, "aggregation": "mean", "weight_by_size": True} for m in ("acc", "acc_norm")]


def test_ceval_pairs_val_and_dev_files_by_subject(tmp_path: Path, data: Path) -> None:
    run = HarnessBenchmarkRun("ceval", "ceval", "zh", 5, path=str(data / "ceval" / "val" / "*.csv"),
                              dev_path=str(data / "ceval" / "dev"))
    members = config(tmp_path, run)["task"]
    assert len(members) == 52
    law = next(m for m in members if m["task"] == "ceval-valid_law")
    assert law["dataset_kwargs"]["sources"] == {"val": [str(data / "ceval" / "val" / "law_val.csv")],
                                                "dev": [str(data / "ceval" / "dev" / "law_dev.csv")]}


def test_hub_sources_list_the_harness_subtasks_unchanged(tmp_path: Path) -> None:
    parquet = "refs/convert/parquet"
    cfg = config(tmp_path, HarnessBenchmarkRun("cmmlu", "cmmlu", "zh", 5, revision=parquet))
    assert len(cfg["task"]) == 67
    assert cfg["task"][0] == {"task": "cmmlu_agronomy", "dataset_kwargs": {"revision": parquet},
                              "num_fewshot": 5}
    mmmlu = config(tmp_path, HarnessBenchmarkRun("ht", "mmmlu", "es", 5))["task"]
    assert len(mmmlu) == 57 and all(m["task"].startswith("mmmlu_es_la_") for m in mmmlu)


def test_mmmlu_file_runs_the_subjects_it_holds(tmp_path: Path) -> None:
    run = HarnessBenchmarkRun("ht", "mmmlu", "zh", 5, path=str(FIXTURES / "mmmlu/test/mmlu_ZH-CN.csv"))
    members = config(tmp_path, run)["task"]
    assert [m["task"] for m in members] == ["mmmlu_zh_cn_elementary_mathematics",
                                            "mmmlu_zh_cn_high_school_geography"]


def test_generation_cap_keeps_the_tasks_stop_sequences(tmp_path: Path, data: Path) -> None:
    run = HarnessBenchmarkRun("mgsm", "mgsm", "ru", 5, max_new_tokens=64,
                              path=str(data / "mgsm/mgsm_{lang}.tsv"),
                              dev_path=str(data / "mgsm/mgsm_exemplars_{lang}.json"))
    (member,) = config(tmp_path, run)["task"]
    assert member["generation_kwargs"] == {"do_sample": False, "until": ["Задача:", "</s>", "<|im_end|>"],
                                           "max_gen_toks": 64}
    assert member["dataset_kwargs"]["layout"] == "mgsm"


def test_no_few_shot_file_means_no_few_shot_split(tmp_path: Path, data: Path) -> None:
    run = HarnessBenchmarkRun("cmmlu", "cmmlu", "zh", 0, path=str(data / "cmmlu/test/arts.csv"))
    (member,) = config(tmp_path, run)["task"]
    assert member["fewshot_split"] is None and member["training_split"] is None


@pytest.mark.parametrize(("run", "match"), [
    pytest.param(HarnessBenchmarkRun("c", "cmmlu", "zh", 0, path=str(FIXTURES / "mmmlu/test/mmlu_ES-LA.csv")),
                 "no harness task cmmlu_mmlu_ES-LA", id="file-not-a-subject"),
    pytest.param(HarnessBenchmarkRun("c", "cmmlu", "zh", 5, path="/no/such/dir/*.csv", dev_path="/x"),
                 "no .* file found", id="nothing-matches"),
], )
def test_bad_sources_fail_before_any_model(tmp_path: Path, run: HarnessBenchmarkRun, match: str) -> None:
    with pytest.raises(StepInputError, match=match):
        write_configs([run], tmp_path)


def test_a_subject_without_its_dev_file_is_named(tmp_path: Path, data: Path) -> None:
    run = HarnessBenchmarkRun("cmmlu", "cmmlu", "zh", 5, path=str(data / "cmmlu/test/arts.csv"),
                              dev_path=str(data / "cmmlu/dev/anatomy.csv"))
    with pytest.raises(StepInputError, match="subject 'arts' has no few-shot file"):
        write_configs([run], tmp_path)


def test_check_runs_parses_every_local_file(tmp_path: Path, write: Any) -> None:
    bad = write("mgsm_es.tsv", "one field only\n")
    with pytest.raises(StepInputError, match="tab-separated"):
        check_runs([HarnessBenchmarkRun("m", "mgsm", "es", 0, path=bad)], tmp_path)


def test_tydiqa_keeps_russian_questions_and_every_gold(tmp_path: Path) -> None:
    run = HarnessBenchmarkRun("tydiqa", "tydiqa", "ru", 1,
                              path=str(FIXTURES / "tydiqa/tydiqa-goldp-v1.1-dev.json"),
                              dev_path=str(FIXTURES / "tydiqa/tydiqa-goldp-v1.1-train.json"))
    task = build(tmp_path, run)["tasks"]["nativejobs_tydiqa_ru"]
    docs = list(task.eval_docs)
    assert [d["id"] for d in docs] == ["russian-1001", "russian-1002", "russian-1003"]
    assert docs[1]["answers"] == ["1828", "в 1828 году"]
    prompt = task.fewshot_context(docs[0], num_fewshot=1)
    assert prompt.startswith("Контекст: ")
    assert prompt.endswith("Вопрос: На какой реке стоит Москва?\n\nОтвет:")
    assert prompt.count("Контекст: ") == 2  # one shot from the train file
    assert task.process_results(docs[1], [" в 1828 году\n"]) == {
        "exact_match": 1.0, "f1": 1.0, "f1_mlqa": 1.0, "include": 1.0}


def test_an_mmmlu_folder_gives_each_language_its_locale_file(tmp_path: Path) -> None:
    for lang, locale in (("es", "ES-LA"), ("zh", "ZH-CN")):
        run = HarnessBenchmarkRun("ht", "mmmlu", lang, 5, path=str(FIXTURES / "mmmlu/test"))
        member = config(tmp_path, run)["task"][0]
        expected = [str(FIXTURES / f"mmmlu/test/mmlu_{locale}.csv")]
        assert member["dataset_kwargs"]["sources"] == {"test": expected}
