"""The harness's results and per-sample log turned into records, predictions and subtask scores
(a recorded result shape of lm-eval 0.4.13, no model), and the task hooks."""

from __future__ import annotations

from typing import Any

import pytest

from nativejobs.benchmarks import hooks
from nativejobs.benchmarks.harness import HarnessBenchmarkRun, _metric_name, _outcome


def mc_sample(doc_id: int, lls: list[float], target: int, acc: float) -> dict[str, Any]:
    ctx = f"question {doc_id}\n答案："
    return {"doc_id": doc_id, "doc": {"Question": f"q{doc_id}"}, "target": target,
            "arguments": [(ctx, f" {c}") for c in "ABCD"], "resps": [[(ll, False)] for ll in lls],
            "filtered_resps": [(ll, False) for ll in lls], "filter": "none",
            "metrics": ["acc", "acc_norm"], "acc": acc, "acc_norm": acc}


def test_grouped_multiple_choice() -> None:
    run = HarnessBenchmarkRun("cmmlu", "cmmlu", "zh", 5, limit=1)
    result = {
        "group_subtasks": {run.group: ["cmmlu_arts", "cmmlu_virology"]},
        "groups": {run.group: {"acc,none": 0.5, "acc_stderr,none": "N/A", "acc_norm,none": 0.5,
                               "alias": "cmmlu"}},
        "results": {"cmmlu_arts": {"acc,none": 1.0, "acc_norm,none": 1.0},
                    "cmmlu_virology": {"acc,none": 0.0, "acc_norm,none": 0.0}},
        "versions": {"cmmlu_arts": 1.0, "cmmlu_virology": 1.0},
        "samples": {"cmmlu_arts": [mc_sample(0, [-2.0, -1.0, -1.0, -3.0], 1, 1.0)],
                    "cmmlu_virology": [mc_sample(0, [-1.0, -2.0, -3.0, -4.0], 3, 0.0)]},
    }
    out = _outcome(run, result)
    assert [(r["metric"], r["score"], r["n"], r["subtasks"], r["task"], r["task_version"])
            for r in out.records] == [("acc", 0.5, 2, 2, "cmmlu", "1.0"),
                                      ("acc_norm", 0.5, 2, 2, "cmmlu", "1.0")]
    assert out.records[0]["harness"].startswith("lm-eval 0.4") and out.records[0]["shots"] == 5
    arts, virology = out.predictions
    assert arts == {"id": "arts-0", "subtask": "arts", "prompt": "question 0\n答案：", "prediction": "B",
                    "golds": ["B"], "loglikelihoods": [-2.0, -1.0, -1.0, -3.0], "acc": 1.0, "acc_norm": 1.0}
    assert (virology["id"], virology["prediction"], virology["golds"]) == ("virology-0", "A", ["D"])
    assert {(s["subtask"], s["metric"], s["score"]) for s in out.subtasks} == {
        ("arts", "acc", 1.0), ("arts", "acc_norm", 1.0),
        ("virology", "acc", 0.0), ("virology", "acc_norm", 0.0)}


def test_mgsm_filters_become_two_metrics_on_one_item() -> None:
    run = HarnessBenchmarkRun("mgsm", "mgsm", "es", 5)
    base = {"doc_id": 0, "doc": {"question": "q", "answer": None, "answer_number": 18}, "target": "18",
            "arguments": [("Pregunta: q\nRespuesta paso a paso:", {"until": ["Pregunta:"]})],
            "resps": [[" 16 - 3 - 4 = 9. 9 * 2 = 18. La respuesta es 18."]], "metrics": ["exact_match"]}
    result = {"group_subtasks": {run.group: ["mgsm_native_cot_es"]},
              "groups": {run.group: {"exact_match,strict-match": 1.0, "exact_match,flexible-extract": 1.0}},
              "results": {"mgsm_native_cot_es": {}}, "versions": {"mgsm_native_cot_es": 4.0},
              "samples": {"mgsm_native_cot_es": [
                  {**base, "filter": "strict-match", "filtered_resps": ["18"], "exact_match": 1.0},
                  {**base, "filter": "flexible-extract", "filtered_resps": ["18."], "exact_match": 1.0}]}}
    out = _outcome(run, result)
    assert [(r["metric"], r["score"]) for r in out.records] == [("exact_match_flexible", 1.0),
                                                               ("exact_match_strict", 1.0)]
    (item,) = out.predictions
    assert item["id"] == "0" and item["golds"] == ["18"]
    assert (item["exact_match_strict"], item["exact_match_flexible"]) == (1.0, 1.0)
    assert (item["extracted_strict"], item["extracted_flexible"]) == ("18", "18.")
    assert item["prediction"].endswith("La respuesta es 18.") and out.subtasks == []


@pytest.mark.parametrize(("key", "name"), [("acc,none", "acc"), ("acc_stderr,none", None),
                                           ("exact_match,strict-match", "exact_match_strict"),
                                           ("f1,my-filter", "f1_my_filter"), ("alias", None)])
def test_metric_names(key: str, name: str | None) -> None:
    assert _metric_name(key) == name


def test_qa_hooks_take_the_best_gold() -> None:
    doc = {"answers": {"text": ["136 次", "136"]}}
    # SQuAD keeps the full-width 。 (EM, F1 0); MLQA drops it and matches the second gold.
    assert hooks.xquad_results_zh(doc, ["136。"]) == {
        "exact_match": 0.0, "f1": 0.0, "f1_mlqa": 1.0, "include": 1.0}
    assert hooks.xquad_results(doc, ["他有136次"], language="zh")["f1_mlqa"] == pytest.approx(2 / 3)
    assert hooks.tydiqa_ru_results({"answers": ["1828", "в 1828 году"]}, [" в 1828 году"])["f1"] == 1.0


def test_load_files_and_the_tydiqa_filter(tmp_path: Any) -> None:
    import json

    datasets = pytest.importorskip("datasets")
    path = tmp_path / "goldp.json"
    path.write_text(json.dumps({"data": [{"title": "t", "paragraphs": [{"context": "Москва.", "qas": [
        {"id": "russian-1", "question": "?", "answers": [{"text": "Москва", "answer_start": 0}]},
        {"id": "english-1", "question": "?", "answers": [{"text": "M", "answer_start": 0}]}]}]}]}))
    loaded = hooks.load_files(sources={"validation": [str(path)]}, layout="squad", version=1.0)
    assert isinstance(loaded, datasets.DatasetDict) and len(loaded["validation"]) == 2
    docs = hooks.tydiqa_ru_docs(loaded["validation"])
    assert [d["id"] for d in docs] == ["russian-1"] and docs[0]["answers"] == ["Москва"]
