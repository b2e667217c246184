"""Job rendering: golden manifests, names, labels, secrets by reference only, non-root pods,
GPU placement, and the refusals (a file store, an engine key with no Secret).

Golden files: ``NATIVEJOBS_UPDATE_GOLDEN=1 pytest tests/unit/k8s`` rewrites them; review the
diff (a step VERSION bump moves the keys in them, as it should).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from nativejobs.errors import SpecError
from nativejobs.k8s.config import ClusterConfig, parse_cluster_config
from nativejobs.k8s.render import (
    LABEL_ATTEMPT,
    LABEL_EXPERIMENT,
    LABEL_KIND,
    LABEL_STEP,
    MANAGED_BY,
    QUEUE_LABEL,
    job_name,
    render_job,
    render_plan,
    selector,
    to_yaml,
)
from nativejobs.plan import Plan, Step, build_plan, uses_gpu
from nativejobs.spec import ExperimentSpec, load_spec
from tests.unit.builders import bench, condition, make_spec_model, steps_where

GOLDEN = Path(__file__).parent / "golden"
STORE = "s3://nativejobs-runs/tiny"
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
SECRET_ENV = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "HF_TOKEN", "OPENAI_API_KEY",
              "GOOGLE_API_KEY"}

# Every field set, so the golden files show every field's effect.
FULL_CONFIG: dict[str, Any] = {
    "namespace": "research",
    "images": {"translate": "registry.example/nj-translate:1.2", "train": "registry.example/nj-train:1.2",
               "eval": "registry.example/nj-eval:1.2", "controller": "registry.example/nj-controller:1.2"},
    "image_pull_policy": "Always",
    "image_pull_secrets": ["registry-pull"],
    "store": {"endpoint_url": "http://minio.storage:9000", "region": "us-east-1",
              "credentials_secret": "s3-credentials", "access_key_id_key": "access-key",
              "secret_access_key_key": "secret-key"},
    "hf_token": {"name": "hf", "key": "token"},
    "secret_env": {"OPENAI_API_KEY": {"name": "engine-keys", "key": "openai"},
                   "GOOGLE_API_KEY": {"name": "engine-keys", "key": "google"}},
    "gpu_resource": "nvidia.com/gpu",
    "node_selector": {"pool": "research"},
    "tolerations": [{"key": "dedicated", "value": "research", "effect": "NoSchedule"}],
    "gpu_node_selector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
    "gpu_tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    "priority_class": "research-batch",
    "kueue_queue": "team-a",
    "ttl_seconds_after_finished": 3600,
    "shm_size": "8Gi",
    "run_as_user": 2000,
    "run_as_group": 2000,
    "fs_group": 3000,
    "step_service_account": "nativejobs-step",
    "controller_service_account": "nativejobs-ctl",
    "pod_annotations": {"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"},
    "extra_labels": {"team": "nlp"},
    "cache_pvc": "model-cache",
}

# The least config that renders every step of tiny_spec(): the API engine's key by reference.
KEYS_ONLY: dict[str, Any] = {"secret_env": {"OPENAI_API_KEY": {"name": "engine-keys", "key": "openai"}}}
API_ENGINE = {"kind": "openai", "model": "gpt-4o-mini", "endpoint": "https://api.openai.com/v1",
              "api_key_env": "OPENAI_API_KEY"}


def tiny_spec(**overrides: Any) -> ExperimentSpec:
    """One language; native and API-translated conditions; GPU train, CPU prepare."""
    doc: dict[str, Any] = {
        "engines": {"api": API_ENGINE},
        "conditions": [condition("native"), condition("translated", "translated", "api")],
        "resources": {"prepare": {"cpu": "500m", "memory": "2Gi"},
                      "translate": {"gpus": 1, "cpu": "2", "memory": "8Gi"},
                      "train": {"gpus": 1, "cpu": "8", "memory": "64Gi"},
                      "evaluate": {"gpus": 1, "cpu": "4", "memory": "32Gi"}},
        "execution": {"max_parallel": 2, "retries": 1, "step_timeout_minutes": 120},
    }
    return make_spec_model(**(doc | overrides))


@pytest.fixture(scope="module")
def spec() -> ExperimentSpec:
    return tiny_spec()


@pytest.fixture(scope="module")
def plan(spec: ExperimentSpec) -> Plan:
    return build_plan(spec)


@pytest.fixture(scope="module")
def full() -> ClusterConfig:
    return parse_cluster_config(FULL_CONFIG)


@pytest.fixture(scope="module")
def paper(repo_root: Path) -> tuple[ExperimentSpec, Plan]:
    spec = load_spec(repo_root / "examples" / "paper.yaml")
    return spec, build_plan(spec)


def pod_spec(job: dict[str, Any]) -> dict[str, Any]:
    return job["spec"]["template"]["spec"]


def container(job: dict[str, Any]) -> dict[str, Any]:
    (c,) = pod_spec(job)["containers"]
    return c


def env_of(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container(job)["env"]}


# -- golden --------------------------------------------------------------------------------------
GOLDEN_STEPS = {
    "prepare-cpu": lambda p: steps_where(p, "prepare", what="native sample")[0],
    "translate-api-key": lambda p: steps_where(p, "translate")[0],
    "train-gpu": lambda p: steps_where(p, "train", condition="native")[0],
}


@pytest.mark.parametrize("name", list(GOLDEN_STEPS))
def test_manifest_matches_golden(name: str, plan: Plan, spec: ExperimentSpec,
                                 full: ClusterConfig) -> None:
    step = GOLDEN_STEPS[name](plan)
    text = to_yaml([render_job(step, full, experiment=spec.name, store_uri=STORE, attempt=2)])
    path = GOLDEN / f"{name}.yaml"
    if os.environ.get("NATIVEJOBS_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"no golden file {path}; run with NATIVEJOBS_UPDATE_GOLDEN=1 to write it"
    assert text == path.read_text(encoding="utf-8"), (
        f"{path.name} differs; if the change is intended, rerun with NATIVEJOBS_UPDATE_GOLDEN=1")


def test_yaml_round_trips_every_manifest(plan: Plan, spec: ExperimentSpec, full: ClusterConfig) -> None:
    manifests = render_plan(plan, full, store_uri=STORE)

    text = to_yaml(manifests)

    assert list(yaml.safe_load_all(text)) == manifests
    assert text.count("\n---\n") == len(manifests) - 1


# -- names and labels ----------------------------------------------------------------------------
def test_names_are_deterministic_unique_and_dns_labels(repo_root: Path,
                                                       paper: tuple[ExperimentSpec, Plan]) -> None:
    _, plan = paper
    again = build_plan(load_spec(repo_root / "examples" / "paper.yaml"))

    names = [job_name(s, a) for s in plan.steps for a in (1, 2, 10)]

    assert names == [job_name(s, a) for s in again.steps for a in (1, 2, 10)]
    assert len(set(names)) == len(names) == 3 * len(plan.steps)
    assert all(len(n) <= 63 and DNS_LABEL.match(n) for n in names), max(names, key=len)


def test_name_shape() -> None:
    step = Step("train", "5a095b30aa3c8f61d2e4b7c9", {})

    assert job_name(step, 1) == "nj-train-5a095b30aa3c-a1"


def test_attempt_below_one_is_a_bug() -> None:
    with pytest.raises(ValueError, match="attempt must be >= 1"):
        job_name(Step("train", "5a095b30aa3c8f61d2e4b7c9", {}), 0)


def test_job_and_pod_carry_the_design_labels(plan: Plan, spec: ExperimentSpec) -> None:
    step = plan.steps[0]

    job = render_job(step, ClusterConfig(), experiment=spec.name, store_uri=STORE, attempt=3)

    want = {MANAGED_BY[0]: MANAGED_BY[1], LABEL_EXPERIMENT: "tiny", LABEL_STEP: step.key,
            LABEL_KIND: step.kind, LABEL_ATTEMPT: "3"}
    assert job["metadata"]["labels"] == want
    assert job["spec"]["template"]["metadata"] == {"labels": want}
    assert job["metadata"]["name"] == job_name(step, 3)


@pytest.mark.parametrize(("experiment", "want"), [
    (None, "app.kubernetes.io/managed-by=nativejobs"),
    ("paper", "app.kubernetes.io/managed-by=nativejobs,nativejobs.io/experiment=paper"),
])
def test_selector(experiment: str | None, want: str) -> None:
    assert selector(experiment) == want


def test_kueue_label_on_the_job_only_and_no_suspend(plan: Plan, spec: ExperimentSpec,
                                                    full: ClusterConfig) -> None:
    job = render_job(plan.steps[0], full, experiment=spec.name, store_uri=STORE)

    assert job["metadata"]["labels"][QUEUE_LABEL] == "team-a"
    assert QUEUE_LABEL not in job["spec"]["template"]["metadata"]["labels"]
    assert "suspend" not in job["spec"]  # Kueue's webhook suspends the Job it queues


# -- one Job, one attempt ------------------------------------------------------------------------
def test_job_never_retries_and_fails_fast_on_bad_input(plan: Plan, spec: ExperimentSpec) -> None:
    job = render_job(plan.steps[0], ClusterConfig(), experiment=spec.name, store_uri=STORE)

    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["podFailurePolicy"]["rules"] == [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
        {"action": "FailJob", "onExitCodes": {"containerName": "step", "operator": "In", "values": [3]}},
    ]
    assert job["spec"]["activeDeadlineSeconds"] == 120 * 60
    assert pod_spec(job)["restartPolicy"] == "Never"
    assert container(job)["command"] == ["python", "-m", "nativejobs.steps", "run", "--store", STORE,
                                         "--step", plan.steps[0].ref]


# -- security ------------------------------------------------------------------------------------
def test_no_secret_value_ever_appears(plan: Plan, spec: ExperimentSpec, full: ClusterConfig,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # Values in the renderer's own environment must not leak into manifests either.
    for name in SECRET_ENV:
        monkeypatch.setenv(name, f"live-{name.lower()}-value")

    manifests = render_plan(plan, full, store_uri=STORE)

    assert "-value" not in to_yaml(manifests)
    for job in manifests:
        for name, entry in env_of(job).items():
            if name in SECRET_ENV:
                assert set(entry) == {"name", "valueFrom"} and "secretKeyRef" in entry["valueFrom"]
            else:
                assert set(entry) == {"name", "value"}, entry


def test_secrets_go_only_where_needed(plan: Plan, spec: ExperimentSpec, full: ClusterConfig) -> None:
    by_kind = {j["metadata"]["labels"][LABEL_KIND]: env_of(j)
               for j in render_plan(plan, full, store_uri=STORE)}

    assert by_kind["translate"]["OPENAI_API_KEY"]["valueFrom"] == {
        "secretKeyRef": {"name": "engine-keys", "key": "openai"}}
    assert "GOOGLE_API_KEY" not in by_kind["translate"]  # not this step's engine
    assert all("OPENAI_API_KEY" not in env for kind, env in by_kind.items() if kind != "translate")
    assert "HF_TOKEN" not in by_kind["summarize"] and "HF_TOKEN" in by_kind["train"]
    assert all("AWS_SECRET_ACCESS_KEY" in env for env in by_kind.values())


def test_every_pod_is_non_root(paper: tuple[ExperimentSpec, Plan], full: ClusterConfig) -> None:
    _, plan = paper
    for job in render_plan(plan, full, store_uri=STORE):
        pod = pod_spec(job)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 2000
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        assert container(job)["securityContext"] == {"allowPrivilegeEscalation": False,
                                                     "capabilities": {"drop": ["ALL"]}}


# -- placement -----------------------------------------------------------------------------------
def test_gpu_steps_get_the_gpu_and_its_nodes_cpu_steps_do_not(
        paper: tuple[ExperimentSpec, Plan], full: ClusterConfig) -> None:
    spec, plan = paper
    gpu_kinds: set[str] = set()
    for step, job in zip(plan.steps, render_plan(plan, full, store_uri=STORE), strict=True):
        pod, limits = pod_spec(job), container(job)["resources"]["limits"]
        if uses_gpu(step, spec):
            gpu_kinds.add(step.kind)
            assert limits["nvidia.com/gpu"] == "1"
            assert pod["nodeSelector"] == {"pool": "research",
                                           "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
            assert [t["key"] for t in pod["tolerations"]] == ["dedicated", "nvidia.com/gpu"]
        else:
            assert "nvidia.com/gpu" not in limits
            assert pod["nodeSelector"] == {"pool": "research"}
            assert [t["key"] for t in pod["tolerations"]] == ["dedicated"]
    assert {"train", "evaluate"} <= gpu_kinds and not gpu_kinds & {"prepare", "summarize"}


def test_remote_engine_translation_holds_no_gpu(plan: Plan, spec: ExperimentSpec,
                                                full: ClusterConfig) -> None:
    (step,) = steps_where(plan, "translate")
    assert spec.resources_for("translate").gpus == 1 and not uses_gpu(step, spec)

    job = render_job(step, full, experiment=spec.name, store_uri=STORE)

    assert "nvidia.com/gpu" not in container(job)["resources"]["limits"]
    assert "nvidia.com/gpu.product" not in pod_spec(job)["nodeSelector"]


def test_shm_for_model_steps_and_cache_everywhere(plan: Plan, spec: ExperimentSpec) -> None:
    for job in render_plan(plan, parse_cluster_config(KEYS_ONLY), store_uri=STORE):
        mounts = {m["mountPath"] for m in container(job)["volumeMounts"]}
        kind = job["metadata"]["labels"][LABEL_KIND]
        assert mounts == ({"/cache", "/dev/shm"} if kind in ("translate", "train", "evaluate")
                          else {"/cache"})
        assert {"name": "cache", "emptyDir": {}} in pod_spec(job)["volumes"]
        assert env_of(job)["HF_HOME"]["value"] == "/cache/hf"


@pytest.mark.parametrize(("cpu", "threads"), [("500m", 1), ("2", 2), ("2.5", 2), ("16000m", 16)])
def test_threads_follow_the_cpu_request(cpu: str, threads: int) -> None:
    spec = tiny_spec(resources={"train": {"gpus": 1, "cpu": cpu}})
    step = steps_where(build_plan(spec), "train")[0]

    job = render_job(step, ClusterConfig(), experiment=spec.name, store_uri=STORE)

    assert env_of(job)["NATIVEJOBS_THREADS"]["value"] == str(threads)


def test_summarize_sets_no_threads(plan: Plan, spec: ExperimentSpec) -> None:
    # The controller image has no torch, and the entrypoint imports it when the variable is set.
    job = render_job(plan.summary, ClusterConfig(), experiment=spec.name, store_uri=STORE)

    assert "NATIVEJOBS_THREADS" not in env_of(job)


# -- refusals ------------------------------------------------------------------------------------
@pytest.mark.parametrize("uri", ["file:///x", "/srv/store", "s3://", "gs://bucket/p"])
def test_a_cluster_run_needs_an_s3_store(uri: str, plan: Plan, spec: ExperimentSpec) -> None:
    with pytest.raises(SpecError) as info:
        render_job(plan.steps[0], ClusterConfig(), experiment=spec.name, store_uri=uri)

    assert info.value.problems == [
        f"store: got {uri!r}; a cluster run needs an s3:// store that every pod can reach "
        "(e.g. s3://bucket/prefix): set store in the spec or pass --store"]


def test_engine_key_without_a_secret_is_refused(plan: Plan, spec: ExperimentSpec) -> None:
    with pytest.raises(SpecError) as info:
        render_plan(plan, ClusterConfig(), store_uri=STORE)

    (line,) = info.value.problems
    assert line.startswith("engines.api.api_key_env: OPENAI_API_KEY has no Secret")
    assert "secret_env: {OPENAI_API_KEY: {name: SECRET, key: KEY}}" in line


def judged_spec() -> ExperimentSpec:
    """Open-ended answers rated by a remote judge (an API key) and a local one (a GPU)."""
    return tiny_spec(
        conditions=[condition("native")],
        benchmarks=[bench("qa", limit=5), bench("oqa", "open_qa")],
        judges={"gpt4": {"kind": "openai", "model": "gpt-4-turbo",
                         "base_url": "https://api.openai.com/v1", "api_key_env": "JUDGE_API_KEY"},
                "local": {"kind": "local", "model": "org/judge"}},
        resources={"judge": {"gpus": 1}})


def test_judges_run_on_the_eval_image_with_their_key_or_their_gpu() -> None:
    spec = judged_spec()
    config = parse_cluster_config({"secret_env": {"JUDGE_API_KEY": {"name": "judge", "key": "k"}}})
    remote, local = (steps_where(build_plan(spec), "judge", judge=j)[0] for j in ("gpt4", "local"))

    remote_job, local_job = (render_job(s, config, experiment=spec.name, store_uri=STORE)
                             for s in (remote, local))

    assert container(remote_job)["image"] == container(local_job)["image"] == config.images["eval"]
    assert env_of(remote_job)["JUDGE_API_KEY"]["valueFrom"] == {
        "secretKeyRef": {"name": "judge", "key": "k"}}
    assert "JUDGE_API_KEY" not in env_of(local_job)
    assert "nvidia.com/gpu" not in container(remote_job)["resources"]["limits"]
    assert container(local_job)["resources"]["limits"]["nvidia.com/gpu"] == "1"


def test_judge_key_without_a_secret_is_refused() -> None:
    spec = judged_spec()

    with pytest.raises(SpecError) as info:
        render_plan(build_plan(spec), ClusterConfig(), store_uri=STORE)

    (line,) = info.value.problems
    assert line.startswith("judges.gpt4.api_key_env: JUDGE_API_KEY has no Secret")


def test_an_unused_engine_needs_no_secret() -> None:
    spec = tiny_spec(conditions=[condition("native")])

    assert render_plan(build_plan(spec), ClusterConfig(), store_uri=STORE)


def test_bad_cpu_quantity_is_one_line(plan: Plan) -> None:
    spec = tiny_spec(resources={"train": {"gpus": 1, "cpu": "two"}})
    step = steps_where(build_plan(spec), "train")[0]

    with pytest.raises(SpecError) as info:
        render_job(step, ClusterConfig(), experiment=spec.name, store_uri=STORE)

    assert info.value.problems == [
        "resources.train.cpu: got 'two'; give cores like \"4\" or millicores like \"500m\""]


def test_local_inputs_are_listed_and_s3_inputs_are_not() -> None:
    from nativejobs.host_inputs import local_inputs

    spec = make_spec_model(data={"native": {"kind": "files", "path": "s3://b/native/{lang}.jsonl"},
                                 "english": {"kind": "files", "path": "data/en.jsonl"}},
                           benchmarks=[bench("qa", path="s3://b/qa.{lang}.json"), bench("mc")])
    assert local_inputs(spec) == [("data.english.path", "data/en.jsonl"),
                                  ("benchmarks[1].path", "bench/mc.{lang}.json")]
