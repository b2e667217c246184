"""Rendered Jobs are valid to a real API server: every step of examples/paper.yaml, and the
unit tests' small plans (an API-key engine, judges, a Kueue label), submitted with server-side
dry-run (``dryRun=All``): validation and admission run in full, nothing is stored.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from nativejobs.k8s.config import ClusterConfig, parse_cluster_config
from nativejobs.k8s.render import render_job, render_plan
from nativejobs.plan import build_plan
from nativejobs.spec import load_spec

# `kube` may also be registered in a conftest: one cluster per process either way.
from tests.integration.cluster_fixtures import KubeCluster, kube  # noqa: F401
from tests.unit.k8s.test_render import FULL_CONFIG, judged_spec, tiny_spec

pytestmark = pytest.mark.integration

STORE = "s3://nativejobs-runs/paper"
BUDGET_S = 60  # the whole paper plan must dry-run well inside this


@pytest.fixture(scope="module")
def api(kube: KubeCluster) -> Iterator[client.ApiClient]:  # noqa: F811
    with kube.api_client() as api_client:
        yield api_client


@pytest.fixture(scope="module")
def namespace(api: client.ApiClient) -> Iterator[str]:
    core = client.CoreV1Api(api)
    name = f"nj-render-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name, propagation_policy="Background")


@pytest.fixture(scope="module")
def priority_class(api: client.ApiClient) -> Iterator[str]:
    """A PriorityClass, since admission resolves priorityClassName when a pod is made."""
    scheduling = client.SchedulingV1Api(api)
    name = f"nj-render-{uuid.uuid4().hex[:8]}"
    scheduling.create_priority_class(client.V1PriorityClass(
        metadata=client.V1ObjectMeta(name=name), value=1000, description="nativejobs render test"))
    yield name
    scheduling.delete_priority_class(name)


def submit(api: client.ApiClient, manifest: dict[str, Any]) -> Any:
    """Create ``manifest`` with dryRun=All; the raw response (ApiException if rejected)."""
    return client.BatchV1Api(api).create_namespaced_job(
        manifest["metadata"]["namespace"], manifest, dry_run="All", _preload_content=False)


def dry_run(api: client.ApiClient, manifest: dict[str, Any]) -> dict[str, Any]:
    """The Job as the server would store it; the test fails on a rejection or a warning."""
    name = manifest["metadata"]["name"]
    try:
        resp = submit(api, manifest)
    except ApiException as e:
        pytest.fail(f"{name} rejected ({e.status}): {e.body}", pytrace=False)
    # The API server warns of accepted-but-dubious fields (duplicate env names, deprecations).
    assert not resp.headers.get("Warning"), f"{name}: {resp.headers['Warning']}"
    return json.loads(resp.data)


def config_for(namespace: str, priority_class: str, **more: Any) -> ClusterConfig:
    return parse_cluster_config({
        "namespace": namespace,
        "priority_class": priority_class,
        "node_selector": {"type": "kwok"},
        "tolerations": [{"key": "dedicated", "value": "research", "effect": "NoSchedule"},
                        {"key": "spot", "operator": "Exists", "effect": "NoExecute",
                         "tolerationSeconds": 300}],
        "gpu_node_selector": {"nvidia.com/gpu.present": "true"},
        "gpu_tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        "store": {"endpoint_url": "http://minio.storage:9000", "region": "us-east-1",
                  "credentials_secret": "s3-credentials"},
        "hf_token": {"name": "hf", "key": "token"},
        "secret_env": {"OPENAI_API_KEY": {"name": "engine-keys", "key": "openai"}},  # paper's judge
        "cache_pvc": "model-cache",
        **more,
    })


def test_every_paper_step_is_accepted(api: client.ApiClient, namespace: str, priority_class: str,
                                      repo_root: Path) -> None:
    spec = load_spec(repo_root / "examples" / "paper.yaml")
    manifests = render_plan(build_plan(spec), config_for(namespace, priority_class),
                            store_uri=STORE)
    start = time.monotonic()

    accepted = [dry_run(api, m) for m in manifests]

    elapsed = time.monotonic() - start
    assert elapsed < BUDGET_S, f"{len(manifests)} dry runs took {elapsed:.0f} s"
    assert [a["metadata"]["name"] for a in accepted] == [m["metadata"]["name"] for m in manifests]
    # Dry run admits but stores nothing: the namespace holds no Job.
    assert client.BatchV1Api(api).list_namespaced_job(namespace).items == []


def test_policy_and_gpu_survive_admission(api: client.ApiClient, namespace: str,
                                          priority_class: str, repo_root: Path) -> None:
    spec = load_spec(repo_root / "examples" / "paper.yaml")
    train = next(s for s in build_plan(spec).steps if s.kind == "train")
    manifest = render_job(train, config_for(namespace, priority_class), experiment=spec.name,
                          store_uri=STORE)

    job = dry_run(api, manifest)

    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["podFailurePolicy"]["rules"][1]["onExitCodes"]["values"] == [3]
    (c,) = job["spec"]["template"]["spec"]["containers"]
    assert c["resources"]["limits"]["nvidia.com/gpu"] == "1"


@pytest.mark.parametrize("make_spec", [tiny_spec, judged_spec], ids=["api-engine", "judges"])
def test_api_keys_and_kueue_label_are_accepted(api: client.ApiClient, namespace: str,
                                               priority_class: str, make_spec: Any) -> None:
    spec = make_spec()
    secret_env = FULL_CONFIG["secret_env"] | {"JUDGE_API_KEY": {"name": "judge", "key": "k"}}
    config = config_for(namespace, priority_class, kueue_queue="team-a", secret_env=secret_env,
                        extra_labels={"team": "nlp"},
                        pod_annotations={"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"})

    for manifest in render_plan(build_plan(spec), config, store_uri=STORE):
        job = dry_run(api, manifest)
        assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "team-a"


def test_dry_run_does_validate(api: client.ApiClient, namespace: str, priority_class: str) -> None:
    # Guards the tests above: a manifest the server must refuse is refused under dryRun=All.
    spec = tiny_spec(conditions=[{"name": "native", "kind": "native"}])
    manifest = render_job(build_plan(spec).steps[0], config_for(namespace, priority_class),
                          experiment=spec.name, store_uri=STORE)
    manifest["spec"]["podFailurePolicy"]["rules"][1]["onExitCodes"]["containerName"] = "nope"

    with pytest.raises(ApiException) as info:
        submit(api, manifest)

    assert info.value.status == 422 and "containerName" in info.value.body
