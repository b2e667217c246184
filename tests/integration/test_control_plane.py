"""The local control plane is real: API version, GPU nodes, Jobs that complete, fail and get
evicted, TTL clean-up, and RBAC enforced on service-account tokens.

The pod behaviours (exit code, eviction) come from the kwok Stages in
k8s/local/kwok-stages.yaml, so the tests that rely on them need the local cluster; with an
external $KUBECONFIG those tests are not meaningful and fail fast with the reason.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

# `kube` is registered here and may also be in conftest: one cluster per process either way.
from tests.integration.cluster_fixtures import KubeCluster, kube  # noqa: F401

pytestmark = pytest.mark.integration

GPU = "nvidia.com/gpu"
T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60.0) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


@pytest.fixture(scope="module")
def api(kube: KubeCluster) -> Iterator[client.ApiClient]:  # noqa: F811
    with kube.api_client() as api_client:
        yield api_client


@pytest.fixture
def namespace(api: client.ApiClient) -> Iterator[str]:
    """A fresh namespace whose default ServiceAccount exists (so Job pods can be created)."""
    core = client.CoreV1Api(api)
    name = f"nj-cp-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))

    def default_sa() -> bool:
        try:
            core.read_namespaced_service_account("default", name)
            return True
        except ApiException as e:
            if e.status != 404:
                raise
            return False

    wait_for(f"ServiceAccount default in {name}", default_sa)
    yield name
    core.delete_namespace(name, propagation_policy="Background")


def require_local(kube: KubeCluster) -> None:  # noqa: F811
    if not kube.local:
        pytest.fail(
            "this test drives pods through the kwok Stages of the local cluster; unset "
            "KUBECONFIG to run it against scripts/cluster.sh",
            pytrace=False,
        )


def gpu_job(
    name: str,
    *,
    annotations: dict[str, str] | None = None,
    backoff_limit: int = 0,
    pod_failure_policy: client.V1PodFailurePolicy | None = None,
    ttl: int | None = None,
) -> client.V1Job:
    """A one-pod batch/v1 Job asking for one GPU, shaped like a nativejobs step."""
    container = client.V1Container(
        name="step",
        image="registry.invalid/nativejobs/worker:test",  # never pulled: kwok runs no containers
        command=["nativejobs-worker"],
        resources=client.V1ResourceRequirements(
            requests={"cpu": "1", "memory": "1Gi", GPU: "1"}, limits={GPU: "1"}
        ),
        security_context=client.V1SecurityContext(
            run_as_non_root=True, run_as_user=1000, allow_privilege_escalation=False
        ),
    )
    return client.V1Job(
        metadata=client.V1ObjectMeta(name=name, labels={"app.kubernetes.io/managed-by": "nativejobs"}),
        spec=client.V1JobSpec(
            backoff_limit=backoff_limit,
            pod_failure_policy=pod_failure_policy,
            ttl_seconds_after_finished=ttl,
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(annotations=annotations or {}),
                spec=client.V1PodSpec(
                    restart_policy="Never",
                    containers=[container],
                    node_selector={"nvidia.com/gpu.present": "true"},
                ),
            ),
        ),
    )


# As DESIGN.md's "Kubernetes shape": ignore disruptions, fail the Job on exit code 3.
STEP_POLICY = client.V1PodFailurePolicy(
    rules=[
        client.V1PodFailurePolicyRule(
            action="Ignore",
            on_pod_conditions=[
                client.V1PodFailurePolicyOnPodConditionsPattern(type="DisruptionTarget", status="True")
            ],
        ),
        client.V1PodFailurePolicyRule(
            action="FailJob",
            on_exit_codes=client.V1PodFailurePolicyOnExitCodesRequirement(operator="In", values=[3]),
        ),
    ]
)


def job_condition(api: client.ApiClient, ns: str, name: str) -> client.V1JobCondition | None:
    """The Job's terminal condition (Complete or Failed, status True), if it has one."""
    job = client.BatchV1Api(api).read_namespaced_job_status(name, ns)
    for cond in job.status.conditions or []:
        if cond.type in ("Complete", "Failed") and cond.status == "True":
            return cond
    return None


def job_pods(api: client.ApiClient, ns: str, name: str) -> list[client.V1Pod]:
    pods = client.CoreV1Api(api).list_namespaced_pod(ns, label_selector=f"job-name={name}")
    return sorted(pods.items, key=lambda p: p.metadata.creation_timestamp)


def running_pod(api: client.ApiClient, ns: str, name: str, skip: set[str]) -> client.V1Pod | None:
    for pod in job_pods(api, ns, name):
        if pod.metadata.name not in skip and pod.status.phase == "Running":
            return pod
    return None


def test_api_answers_with_version_at_least_1_31(api: client.ApiClient) -> None:
    info = client.VersionApi(api).get_code()
    version = (int(info.major), int(info.minor.rstrip("+")))
    assert version >= (1, 31), info.git_version
    assert info.git_version.startswith(f"v{version[0]}.{version[1]}.")


def test_a_kwok_node_advertises_gpus(api: client.ApiClient, kube: KubeCluster) -> None:  # noqa: F811
    require_local(kube)
    nodes = client.CoreV1Api(api).list_node(label_selector="nvidia.com/gpu.present=true").items
    assert nodes, "no node labelled nvidia.com/gpu.present=true"
    for node in nodes:
        assert node.metadata.annotations.get("kwok.x-k8s.io/node") == "fake"
        assert node.status.allocatable[GPU] == "8"
        assert node.status.capacity[GPU] == "8"
        ready = {c.type: c.status for c in node.status.conditions}["Ready"]
        assert ready == "True", node.metadata.name


def test_gpu_job_runs_to_complete_on_a_kwok_node(
    api: client.ApiClient,
    kube: KubeCluster,  # noqa: F811
    namespace: str,
) -> None:
    require_local(kube)
    client.BatchV1Api(api).create_namespaced_job(namespace, gpu_job("gpu-ok"))
    cond = wait_for("Job gpu-ok to finish", lambda: job_condition(api, namespace, "gpu-ok"))
    assert cond.type == "Complete", (cond.reason, cond.message)
    (pod,) = job_pods(api, namespace, "gpu-ok")
    node = client.CoreV1Api(api).read_node(pod.spec.node_name)
    assert node.metadata.annotations.get("kwok.x-k8s.io/node") == "fake"
    assert pod.spec.containers[0].resources.limits[GPU] == "1"
    assert pod.status.phase == "Succeeded"
    assert pod.status.container_statuses[0].state.terminated.exit_code == 0


def test_failure_annotation_fails_the_job_with_the_chosen_exit_code(
    api: client.ApiClient,
    kube: KubeCluster,  # noqa: F811
    namespace: str,
) -> None:
    require_local(kube)
    job = gpu_job(
        "gpu-exit3",
        annotations={"nativejobs.io/sim-exit-code": "3"},
        backoff_limit=4,  # not used up: the pod failure policy fails the Job on exit code 3
        pod_failure_policy=STEP_POLICY,
    )
    client.BatchV1Api(api).create_namespaced_job(namespace, job)
    cond = wait_for("Job gpu-exit3 to finish", lambda: job_condition(api, namespace, "gpu-exit3"))
    assert (cond.type, cond.reason) == ("Failed", "PodFailurePolicy"), cond.message
    (pod,) = job_pods(api, namespace, "gpu-exit3")
    assert pod.status.phase == "Failed"
    terminated = pod.status.container_statuses[0].state.terminated
    assert (terminated.exit_code, terminated.reason) == (3, "Error")


def start_long_job(api: client.ApiClient, ns: str, name: str) -> client.V1Pod:
    """A Job like a nativejobs step (ignores disruptions, backoffLimit 0) whose pod stays
    Running until told otherwise; returns that running pod."""
    job = gpu_job(
        name,
        annotations={"nativejobs.io/sim-duration": "1h"},
        backoff_limit=0,
        pod_failure_policy=STEP_POLICY,
    )
    client.BatchV1Api(api).create_namespaced_job(ns, job)
    return wait_for("a running pod", lambda: running_pod(api, ns, name, set()))


def finish_replacement_and_check(api: client.ApiClient, ns: str, name: str, evicted: client.V1Pod) -> None:
    """The Job replaced the evicted pod without counting a failure: finish the replacement
    and check that the Job completes with failed == 0 despite backoffLimit 0."""
    replacement = wait_for("a replacement pod", lambda: running_pod(api, ns, name, {evicted.metadata.name}))
    client.CoreV1Api(api).patch_namespaced_pod(
        replacement.metadata.name,
        ns,
        {"metadata": {"annotations": {"nativejobs.io/sim-duration": "0s"}}},
    )
    cond = wait_for(f"Job {name} to finish", lambda: job_condition(api, ns, name))
    assert cond.type == "Complete", (cond.reason, cond.message)
    status = client.BatchV1Api(api).read_namespaced_job_status(name, ns).status
    assert (status.succeeded, status.failed or 0) == (1, 0)


def test_kubelet_style_eviction_is_a_disruption_the_job_ignores(
    api: client.ApiClient,
    kube: KubeCluster,  # noqa: F811
    namespace: str,
) -> None:
    """The sim-evict annotation on one running pod: Failed, Evicted, DisruptionTarget=True."""
    require_local(kube)
    core = client.CoreV1Api(api)
    pod = start_long_job(api, namespace, "gpu-evict")
    core.patch_namespaced_pod(
        pod.metadata.name,
        namespace,
        {"metadata": {"annotations": {"nativejobs.io/sim-evict": "true"}}},
    )

    def failed() -> client.V1Pod | None:
        now = core.read_namespaced_pod_status(pod.metadata.name, namespace)
        return now if now.status.phase == "Failed" else None

    evicted = wait_for("the annotated pod to be evicted", failed)
    conds = {c.type: c for c in evicted.status.conditions}
    assert (conds["DisruptionTarget"].status, conds["DisruptionTarget"].reason) == (
        "True",
        "TerminationByKubelet",
    )
    assert evicted.status.reason == "Evicted"
    assert evicted.status.container_statuses[0].state.terminated.exit_code == 137
    finish_replacement_and_check(api, namespace, "gpu-evict", evicted)


def test_eviction_api_is_a_disruption_the_job_ignores(
    api: client.ApiClient,
    kube: KubeCluster,  # noqa: F811
    namespace: str,
) -> None:
    """The real Eviction API: the apiserver adds DisruptionTarget and deletes the pod; kwok's
    pod-terminate stage makes it Failed first, as a kubelet would."""
    require_local(kube)
    pod = start_long_job(api, namespace, "gpu-evict-api")
    client.CoreV1Api(api).create_namespaced_pod_eviction(
        pod.metadata.name,
        namespace,
        client.V1Eviction(metadata=client.V1ObjectMeta(name=pod.metadata.name, namespace=namespace)),
    )
    finish_replacement_and_check(api, namespace, "gpu-evict-api", pod)


def test_ttl_after_finished_deletes_job_and_pods(
    api: client.ApiClient,
    kube: KubeCluster,  # noqa: F811
    namespace: str,
) -> None:
    require_local(kube)
    batch = client.BatchV1Api(api)
    batch.create_namespaced_job(namespace, gpu_job("gpu-ttl", ttl=1))

    def gone() -> bool:
        jobs = batch.list_namespaced_job(namespace).items
        pods = client.CoreV1Api(api).list_namespaced_pod(namespace).items
        return not jobs and not pods

    # Finished, then deleted by the TTL controller; its pod by the garbage collector.
    wait_for("the Job and its pod to be cleaned up", gone, timeout=90)


def test_rbac_enforced_on_service_account_tokens(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    rbac = client.RbacAuthorizationV1Api(api)
    core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="probe"))
    )
    token = core.create_namespaced_service_account_token(
        "probe",
        namespace,
        client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=600)
        ),
    ).status.token

    conf = client.Configuration()
    conf.host = api.configuration.host
    conf.ssl_ca_cert = api.configuration.ssl_ca_cert
    conf.verify_ssl = True
    conf.api_key = {"authorization": f"Bearer {token}"}
    with client.ApiClient(conf) as as_probe:
        probe_batch = client.BatchV1Api(as_probe)
        with pytest.raises(ApiException) as denied:
            probe_batch.list_namespaced_job(namespace)
        assert denied.value.status == 403
        assert f"system:serviceaccount:{namespace}:probe" in denied.value.body

        rbac.create_namespaced_role(
            namespace,
            client.V1Role(
                metadata=client.V1ObjectMeta(name="list-jobs"),
                rules=[client.V1PolicyRule(api_groups=["batch"], resources=["jobs"], verbs=["list"])],
            ),
        )
        rbac.create_namespaced_role_binding(
            namespace,
            client.V1RoleBinding(
                metadata=client.V1ObjectMeta(name="probe-lists-jobs"),
                role_ref=client.V1RoleRef(
                    api_group="rbac.authorization.k8s.io", kind="Role", name="list-jobs"
                ),
                subjects=[client.RbacV1Subject(kind="ServiceAccount", name="probe", namespace=namespace)],
            ),
        )

        def can_list() -> Any:
            try:
                return probe_batch.list_namespaced_job(namespace)
            except ApiException as e:
                if e.status != 403:
                    raise
                return None

        assert wait_for("the RoleBinding to take effect", can_list, timeout=30).items == []
        # Only what the Role allows: listing pods is still forbidden.
        with pytest.raises(ApiException) as still_denied:
            client.CoreV1Api(as_probe).list_namespaced_pod(namespace)
        assert still_denied.value.status == 403
