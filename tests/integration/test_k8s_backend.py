"""The Kubernetes backend against the real local control plane, with MinIO as the store.

The quickstart's plan runs as Jobs on kwok's fake GPU nodes. kwok executes no containers, so
the step processes are simulated by ``SimWorkers`` (tests/integration/sim_workers.py): for each
step pod they write the marker a real step writes last, then end the pod with the exit code the
test chose. Everything else is real: Job creation and 409s, the Job controller, podFailurePolicy,
evictions, label-selector lists and watches, foreground deletion.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from nativejobs.k8s.backend import KubernetesBackend
from nativejobs.k8s.client import KubeClient
from nativejobs.k8s.config import ClusterConfig
from nativejobs.orchestrate import Orchestrator, RunStatus, State
from nativejobs.plan import Plan, build_plan
from nativejobs.spec import ExperimentSpec, load_spec
from nativejobs.store import Store
from tests.integration.cluster_fixtures import KubeCluster
from tests.integration.sim_workers import Policy, SimWorkers

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
HOLD = {"nativejobs.io/sim-duration": "1h"}  # pods run until a sim worker ends them


@pytest.fixture
def namespace(kube: KubeCluster) -> Iterator[str]:
    name = f"nj-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(kube.api_client())
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name)


@pytest.fixture
def spec() -> ExperimentSpec:
    return load_spec(REPO / "examples" / "quickstart.yaml")


def _backend(kube: KubeCluster, namespace: str, spec: ExperimentSpec) -> KubernetesBackend:
    config = ClusterConfig(namespace=namespace, pod_annotations=HOLD)
    return KubernetesBackend(KubeClient(namespace, kubeconfig_path=kube.kubeconfig), spec.name, config)


def _run(plan: Plan, store: Store, backend: KubernetesBackend, *, retries: int = 1,
         timeout_s: float = 240, stop: Callable[[RunStatus], bool] = lambda s: False) -> RunStatus:
    orch = Orchestrator(plan, store, backend, max_parallel=8, retries=retries, backoff_s=lambda n: 0.0)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = orch.reconcile(store.uri)
        if status.finished or stop(status):
            return status
        time.sleep(0.3)
    pytest.fail(f"the run did not finish in {timeout_s}s: {dict(status.counts())}")


def _jobs_per_step(kube: KubeCluster, namespace: str) -> dict[str, list[str]]:
    jobs = client.BatchV1Api(kube.api_client()).list_namespaced_job(
        namespace, label_selector="app.kubernetes.io/managed-by=nativejobs")
    out: dict[str, list[str]] = {}
    for job in jobs.items:
        out.setdefault(job.metadata.labels["nativejobs.io/step"], []).append(job.metadata.name)
    return out


def _sim(kube: KubeCluster, namespace: str, store: Store, policy: Policy) -> SimWorkers:
    return SimWorkers(kube.api_client(), namespace, store, policy)


def test_the_quickstart_plan_runs_to_completion_as_jobs(kube: KubeCluster, namespace: str,
                                                        spec: ExperimentSpec, s3_store: Store) -> None:
    plan = build_plan(spec)
    backend = _backend(kube, namespace, spec)
    with _sim(kube, namespace, s3_store, lambda kind, key, attempt: "succeed") as sim:
        status = _run(plan, s3_store, backend)
    backend.close()

    assert status.succeeded, dict(status.counts())
    assert all(s3_store.is_done(s.kind, s.key) for s in plan.steps)
    jobs = _jobs_per_step(kube, namespace)
    assert {k: len(v) for k, v in jobs.items()} == {s.key: 1 for s in plan.steps}  # one Job each
    assert sorted(sim.steps()) == sorted(s.ref for s in plan.steps)


def test_exit_code_3_fails_the_step_once_and_blocks_downstream(
        kube: KubeCluster, namespace: str, spec: ExperimentSpec, s3_store: Store) -> None:
    plan = build_plan(spec)
    bad = next(s for s in plan.steps if s.kind == "train")
    backend = _backend(kube, namespace, spec)

    def policy(kind: str, key: str, attempt: int) -> str:
        return "exit:3" if key == bad.key else "succeed"

    with _sim(kube, namespace, s3_store, policy):
        status = _run(plan, s3_store, backend, retries=2)
    backend.close()

    assert status.states[bad.key] is State.FAILED
    assert "bad input" in status.failures[bad.key]
    assert all(status.states[k] is State.BLOCKED for k in plan.downstream({bad.key}))
    assert len(_jobs_per_step(kube, namespace)[bad.key]) == 1  # never retried


def test_an_evicted_pod_is_replaced_without_spending_the_retry_budget(
        kube: KubeCluster, namespace: str, spec: ExperimentSpec, s3_store: Store) -> None:
    plan = build_plan(spec)
    victim = next(s for s in plan.steps if s.kind == "prepare")
    played: list[str] = []
    backend = _backend(kube, namespace, spec)

    def policy(kind: str, key: str, attempt: int) -> str:
        played.append(key)
        return "evict" if key == victim.key and played.count(key) == 1 else "succeed"

    with _sim(kube, namespace, s3_store, policy):
        status = _run(plan, s3_store, backend, retries=0)  # no budget at all
    backend.close()

    assert status.succeeded, status.failures
    assert played.count(victim.key) == 2  # evicted, then a new pod of the same Job finished it
    assert _jobs_per_step(kube, namespace)[victim.key] == [f"nj-prepare-{victim.key[:12]}-a1"]


def test_a_new_controller_adopts_running_jobs_and_creates_no_duplicates(
        kube: KubeCluster, namespace: str, spec: ExperimentSpec, s3_store: Store) -> None:
    plan = build_plan(spec)

    def policy(kind: str, key: str, attempt: int) -> str:
        # Translate pods keep running until the second controller. They hang rather than block
        # here: the sim plays every pod on one thread, and a blocked policy kept the remaining
        # prepares from ever finishing (the first controller then waited out its 240 s).
        return "succeed" if kind == "prepare" else "hang"

    first = _backend(kube, namespace, spec)
    with _sim(kube, namespace, s3_store, policy) as sim:
        _run(plan, s3_store, first,
             stop=lambda s: sum(v is State.RUNNING for v in s.states.values()) >= 2
             and all(s3_store.is_done(x.kind, x.key) for x in plan.steps if x.kind == "prepare"))
        first.close()  # the controller dies; its Jobs live on
        running_before = _jobs_per_step(kube, namespace)

        second = _backend(kube, namespace, spec)
        sim.switch_policy(lambda kind, key, attempt: "succeed")
        status = _run(plan, s3_store, second)
        second.close()

    assert status.succeeded, status.failures
    jobs = _jobs_per_step(kube, namespace)
    assert all(len(names) == 1 for names in jobs.values()), jobs  # adopted, never recreated
    assert all(jobs[k] == v for k, v in running_before.items())
    assert len(sim.handled) == len(plan.steps)


def test_cancel_deletes_every_job_of_the_experiment(kube: KubeCluster, namespace: str,
                                                    spec: ExperimentSpec, s3_store: Store) -> None:
    plan = build_plan(spec)
    backend = _backend(kube, namespace, spec)
    with _sim(kube, namespace, s3_store, lambda kind, key, attempt: "hang"):
        _run(plan, s3_store, backend, stop=lambda s: State.RUNNING in s.states.values())
        assert _jobs_per_step(kube, namespace)
        backend.cancel_all()

    core = client.CoreV1Api(kube.api_client())

    def left() -> tuple[dict[str, list[str]], list[str]]:
        pods = core.list_namespaced_pod(namespace).items
        return _jobs_per_step(kube, namespace), [p.metadata.name for p in pods
                                                 if not p.metadata.deletion_timestamp]

    deadline = time.monotonic() + 60
    while left() != ({}, []) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert left() == ({}, [])
    backend.close()


def test_pending_steps_say_why(kube: KubeCluster, namespace: str, s3_store: Store,
                               spec: ExperimentSpec) -> None:
    greedy = spec.model_copy(update={"resources": {
        "prepare": spec.resources_for("prepare").model_copy(update={"gpus": 64})}})
    plan = build_plan(greedy)
    backend = _backend(kube, namespace, greedy)
    explained: dict[str, Any] = {}

    def stop(status: RunStatus) -> bool:
        explained.update(backend.pending)
        return bool(explained)

    _run(plan, s3_store, backend, stop=stop, timeout_s=60)
    backend.cancel_all()
    backend.close()
    why = next(iter(explained.values()))
    assert why.startswith("unschedulable:") and "nvidia.com/gpu" in why, why


def test_a_watch_from_an_old_version_keeps_up(kube: KubeCluster, namespace: str) -> None:
    """Whether the server still has version 1 (a young cluster) or answers 410 Gone (after a
    compaction), the mirror ends up watching and sees what follows; the 410 branch itself is
    unit-tested in tests/unit/k8s/test_job_status.py."""
    from nativejobs.k8s.client import Mirror as _Mirror

    kc = KubeClient(namespace, kubeconfig_path=kube.kubeconfig)
    mirror = _Mirror(kc, kc.core.list_namespaced_config_map, "nativejobs-test=mirror")
    mirror._relist()
    mirror._version = "1"
    mirror.start_watching()
    core = client.CoreV1Api(kube.api_client())
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "seen", "labels": {
        "nativejobs-test": "mirror"}}})
    deadline = time.monotonic() + 30
    while "seen" not in mirror.items and time.monotonic() < deadline:
        time.sleep(0.2)
    mirror.stop()
    assert "seen" in mirror.items


def test_a_step_blocked_by_a_quota_says_so(kube: KubeCluster, namespace: str, s3_store: Store,
                                           spec: ExperimentSpec) -> None:
    client.CoreV1Api(kube.api_client()).create_namespaced_resource_quota(namespace, {
        "metadata": {"name": "no-pods"}, "spec": {"hard": {"pods": "0"}}})
    backend = _backend(kube, namespace, spec)
    explained: dict[str, Any] = {}

    def stop(status: RunStatus) -> bool:
        explained.update(backend.pending)
        return bool(explained)

    _run(build_plan(spec), s3_store, backend, stop=stop, timeout_s=90)
    backend.cancel_all()
    backend.close()
    why = next(iter(explained.values()))
    assert why.startswith("quota exceeded:") and "no-pods" in why, why
