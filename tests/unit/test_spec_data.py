"""Spec fields for data sources, engines, conditions, arms and resources (issue 5, issue 3.2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nativejobs.errors import SpecError
from nativejobs.spec import load_spec, parse_spec
from tests.unit.builders import make_spec, set_path


def problems(doc: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as e:
        parse_spec(doc)
    return e.value.problems


def with_engine(**engine: Any) -> dict[str, Any]:
    return make_spec(engines={"eng": engine})


@pytest.mark.parametrize("engine", [
    pytest.param({"kind": "llm", "model": "org/t"}, id="llm"),
    pytest.param({"kind": "google", "api_key_env": "GOOGLE_API_KEY", "batch_size": 128}, id="google"),
    pytest.param({"kind": "google", "endpoint": "http://127.0.0.1:9/v2", "model": "nmt"},
                 id="google-endpoint"),
    pytest.param({"kind": "openai", "model": "served", "endpoint": "http://vllm:8000/v1",
                  "api_key_env": "OPENAI_API_KEY"}, id="openai"),
    pytest.param({"kind": "seq2seq", "model": "facebook/nllb-200-distilled-600M"}, id="seq2seq"),
    pytest.param({"kind": "seq2seq", "model": "/models/madlad-ct2", "backend": "ctranslate2",
                  "code_style": "madlad", "tokenizer": "google/madlad400-3b-mt"}, id="seq2seq-ct2"),
    pytest.param({"kind": "llm", "model": "m", "quality": {"policy": "retry", "retries": 3}},
                 id="quality"),
])
def test_every_engine_kind_validates(engine: dict[str, Any]) -> None:
    assert parse_spec(with_engine(**engine)).engines["eng"].kind == engine["kind"]


@pytest.mark.parametrize(("engine", "expected"), [
    pytest.param({"kind": "openai", "model": "m"}, "needs an endpoint", id="openai-endpoint"),
    pytest.param({"kind": "llm"}, "needs a model", id="llm-model"),
    pytest.param({"kind": "google", "model": "gpt"}, "'nmt' or 'base'", id="google-model"),
    pytest.param({"kind": "google", "backend": "vllm"}, "does not serve", id="backend"),
    pytest.param({"kind": "llm", "model": "m", "prompt": "Translate: {text}"},
                 "{src}, {tgt} and {text}", id="prompt"),
    pytest.param({"kind": "llm", "model": "m", "quality": {"min_length_ratio": 3}},
                 "below max_length_ratio", id="ratio-order"),
    pytest.param({"kind": "google", "max_request_chars": 40000}, "less than or equal to 30000",
                 id="request-size"),
])
def test_engine_problems(engine: dict[str, Any], expected: str) -> None:
    assert any(expected in p and p.startswith("engines.eng") for p in problems(with_engine(**engine)))


LITERAL = "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"  # the shape of a Google API key (not a real one)


def test_a_literal_key_is_rejected_and_never_echoed() -> None:
    found = problems(with_engine(kind="google", api_key_env=LITERAL))

    assert found == ["engines.eng.api_key_env: got '<redacted: not an environment variable name>'; "
                     "must be the NAME of an environment variable that holds the key "
                     "(e.g. GOOGLE_API_KEY), never the key itself"]
    assert LITERAL not in "\n".join(found)


@pytest.mark.parametrize("field", ["api_key", "key", "token"])
def test_a_key_field_is_rejected_and_never_echoed(field: str) -> None:
    found = problems(with_engine(kind="google", **{field: LITERAL}))

    assert f"engines.eng.{field}: unknown key; remove it or fix its spelling" in found
    assert LITERAL not in "\n".join(found)


@pytest.mark.parametrize(("source", "expected"), [
    pytest.param({"kind": "released"}, "needs a path", id="released-path"),
    pytest.param({"kind": "files", "path": "x", "system": "google"}, "for kind 'released' only",
                 id="system-on-files"),
    pytest.param({"kind": "released", "path": "/d", "system": "deepl"}, "'google' or 'cohere'",
                 id="unknown-system"),
])
def test_source_problems(source: dict[str, Any], expected: str) -> None:
    assert any(expected in p for p in problems(set_path(make_spec(), "data.native", source)))


def test_native_data_takes_no_system() -> None:
    doc = set_path(make_spec(), "data.native", {"kind": "released", "path": "/d", "system": "google"})
    assert any("give them no system" in p for p in problems(doc))


@pytest.mark.parametrize(("cond", "expected"), [
    pytest.param({"name": "g", "kind": "translated", "engine": "eng",
                  "source": {"kind": "files", "path": "x"}}, "not both", id="engine-and-source"),
    pytest.param({"name": "g", "kind": "translated", "source": {"kind": "released", "path": "/d"}},
                 "needs a system", id="released-without-system"),
    pytest.param({"name": "g", "kind": "translated", "source": {"kind": "aya"}},
                 "holds no translations", id="aya-as-translations"),
    pytest.param({"name": "n", "kind": "native", "source": {"kind": "files", "path": "x"}},
                 "takes no engine or source", id="native-with-source"),
])
def test_condition_problems(cond: dict[str, Any], expected: str) -> None:
    assert any(expected in p for p in problems(set_path(make_spec(), "conditions[1]", cond)))


def test_a_condition_can_read_released_or_file_translations() -> None:
    doc = make_spec(conditions=[
        {"name": "native"},
        {"name": "g", "kind": "translated", "source": {"kind": "released", "path": "/d", "system": "google"}},
        {"name": "f", "kind": "round_trip", "source": {"kind": "files", "path": "rtt.{lang}.jsonl"}}])
    spec = parse_spec(doc)
    assert [c.source.kind for c in spec.conditions if c.source] == ["released", "files"]


def test_arms_mode_and_conditions() -> None:
    doc = make_spec(arms=[{"name": "a", "lr": 1e-4},
                          {"name": "m", "lr": 1e-4, "mode": "multi", "conditions": ["native"]}])
    spec = parse_spec(doc)
    assert [a.mode for a in spec.arms] == ["mono", "multi"]

    bad = set_path(make_spec(), "arms", [{"name": "m", "lr": 1e-4, "conditions": ["nope"]}])
    assert any(p.startswith("arms[0].conditions: got ['nope']") for p in problems(bad))
    bad = set_path(make_spec(), "arms", [{"name": "m", "lr": 1e-4, "mode": "both"}])
    assert any(p.startswith("arms[0].mode") for p in problems(bad))


def test_mixture_defaults_to_the_papers_eight_languages() -> None:
    spec = parse_spec(make_spec())
    assert spec.data.mixture.languages == ("es", "ru", "zh", "ar", "de", "fi", "ga", "hi")
    assert spec.data.mixture.size is None


@pytest.mark.parametrize(("languages", "expected"), [
    (["es", "en"], "pivot"), (["es", "es"], "distinct"), (["xx"], "unknown language")])
def test_mixture_language_problems(languages: list[str], expected: str) -> None:
    doc = set_path(make_spec(), "data.mixture", {"languages": languages})
    assert any(expected in p for p in problems(doc))


def test_resources_take_gpu_hours() -> None:
    spec = parse_spec(make_spec(resources={"train": {"gpus": 1, "gpu_hours_per_step": 4}}))
    assert spec.resources_for("train").gpu_hours_per_step == 4.0
    assert spec.resources_for("evaluate").gpu_hours_per_step == 0.0
    bad = make_spec(resources={"train": {"gpu_hours_per_step": -1}})
    assert any(p.startswith("resources.train.gpu_hours_per_step") for p in problems(bad))


@pytest.mark.parametrize("name", ["quickstart.yaml", "paper.yaml"])
def test_examples_validate(repo_root: Path, name: str) -> None:
    assert load_spec(repo_root / "examples" / name).name


def test_step_parameter_models_mirror_the_spec() -> None:
    """Steps do not import the spec; their parameter models take what the plan sends, with
    the same defaults."""
    from nativejobs.spec import EngineSpec, QualitySpec, SourceSpec
    from nativejobs.steps.prepare import Source
    from nativejobs.translation.config import EngineConfig, QualityConfig

    assert set(SourceSpec.model_fields) == set(Source.model_fields)
    assert QualitySpec().model_dump() == QualityConfig().model_dump()
    for kind in ("llm", "google", "openai", "seq2seq"):
        doc = {"kind": kind, "model": "m", "endpoint": "http://x/v1"} if kind != "google" else {"kind": kind}
        assert EngineSpec(**doc).model_dump() == EngineConfig(**doc).model_dump()
