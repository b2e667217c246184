"""Step.needs: what each planned step asks of the machine, computed once from the spec.

The Job renderer and the backends read only these (tests/unit/k8s/test_render.py checks the
manifests they become), so every rule the spec implies is pinned here."""

from __future__ import annotations

from nativejobs.plan import StepNeeds, build_plan
from nativejobs.spec import parse_spec
from tests.unit.builders import bench, make_spec

API_ENGINE = {"kind": "openai", "model": "gpt-4o-mini", "endpoint": "https://api.openai.com/v1",
              "api_key_env": "OPENAI_API_KEY"}
RESOURCES = {kind: {"gpus": 1, "cpu": "4", "memory": "32Gi"}
             for kind in ("prepare", "translate", "train", "evaluate", "summarize")}


def _needs(**overrides: object) -> dict[str, StepNeeds]:
    spec = parse_spec(make_spec(**overrides))
    return {f"{s.kind}:{s.labels.get('what', '')}": s.needs for s in build_plan(spec).steps}


def test_needs_follow_the_spec_resources_and_the_step() -> None:
    needs = _needs(resources=RESOURCES, execution={"step_timeout_minutes": 90})
    train = next(n for k, n in needs.items() if k.startswith("train"))
    summarize = next(n for k, n in needs.items() if k.startswith("summarize"))
    prepare = next(n for k, n in needs.items() if k.startswith("prepare"))

    assert train == StepNeeds(gpus=1, cpu="4", memory="32Gi", timeout_s=5400, image_role="train",
                              torch=True, shared_memory=True)
    assert summarize.image_role == "controller" and not summarize.torch and not summarize.shared_memory
    assert prepare.image_role == "translate" and prepare.torch and not prepare.shared_memory
    assert prepare.host_inputs  # data/{lang}.jsonl is a file on the submitter's disk


def test_a_remote_engine_needs_its_key_by_name_and_no_gpu() -> None:
    needs = _needs(resources=RESOURCES, engines={"api": API_ENGINE},
                   conditions=[{"name": "translated", "kind": "translated", "engine": "api"}])
    translate = next(n for k, n in needs.items() if k.startswith("translate"))

    assert translate.gpus == 0
    assert translate.secret_env == (("OPENAI_API_KEY", "engines.api"),)
    assert translate.image_role == "translate"


def test_inputs_in_the_store_or_on_the_hub_are_not_host_files() -> None:
    needs = _needs(data={"native": {"kind": "files", "path": "s3://b/{lang}.jsonl"},
                         "english": {"kind": "files", "path": "s3://b/en.jsonl"}, "size": 4},
                   benchmarks=[bench("qa", path="s3://b/qa.{lang}.json")])

    assert not any(n.host_inputs for n in needs.values())


def test_a_local_benchmark_file_makes_only_evaluate_read_host_files() -> None:
    needs = _needs(data={"native": {"kind": "files", "path": "s3://b/{lang}.jsonl"},
                         "english": {"kind": "files", "path": "s3://b/en.jsonl"}, "size": 4})

    assert {k.split(":")[0] for k, n in needs.items() if n.host_inputs} == {"evaluate"}
