"""Steps in real containers on a real node: what the kwok tests cannot show.

The kwok nodes run no container: their pods "succeed" and simulated workers write markers.
Here a kubelet on containerd runs the project's own images (built by images/build.sh from the
Dockerfile users build) as uid 1000 under the restricted Pod Security Standard; pods read the
store (MinIO) and the API server over the pod network, the chart's Secret gives them the store
keys, and ``submit --detach`` runs the controller as a pod. A small study (prepare, translate,
train, evaluate, summarize: every image role, and the driver) runs through real pods and must
give the same step keys and the same records as the local backend.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from nativejobs.plan import build_plan
from nativejobs.spec import load_spec
from nativejobs.store import Store, open_store
from tests.integration.cluster_fixtures import KubeCluster
from tests.integration.conftest import MinioServer
from tests.integration.real_node import NODE_NAME, RealNode, real_node  # noqa: F401  (fixture)
from tests.integration.test_chart import RELEASE, install_chart, run

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
NAME = "realnode"
RUN_TIMEOUT_S = 3600  # the whole quickstart takes ~18 min on 2 quiet cores; a busy machine, twice that
KINDS = ("prepare", "translate", "train", "evaluate", "summarize")
# The role of each kind's image (nativejobs/k8s/config.py); summarize runs on the controller's.
IMAGE_ROLE = {"prepare": "worker", "translate": "worker", "train": "worker", "evaluate": "worker",
              "summarize": "controller"}


def study(folder: Path, *, whole: bool) -> Path:
    """The quickstart with requests that fit a 2-core node and paths absolute; unless
    ``whole``, cut to one language and one translated condition: one step of each kind but
    judge (2 prepare, translate, train, evaluate, summarize)."""
    doc = yaml.safe_load((EXAMPLES / "quickstart.yaml").read_text())
    doc["name"] = NAME
    for section in ("native", "english"):
        doc["data"][section]["path"] = str(EXAMPLES / doc["data"][section]["path"])
    for b in doc["benchmarks"]:
        b.update({k: str(EXAMPLES / b[k]) for k in ("path", "dev_path") if k in b})
    if not whole:
        doc["languages"] = ["es"]
        doc["conditions"] = [{"name": "translated", "kind": "translated", "engine": "smol"}]
        doc["training"]["epochs"] = 1
        doc["benchmarks"] = [{**b, "limit": 2} for b in doc["benchmarks"] if b["kind"] == "xquad"]
    doc["resources"] = {kind: {"cpu": "500m", "memory": "6Gi"} for kind in KINDS}
    doc["execution"] = {"max_parallel": 2, "retries": 0}
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def nativejobs(*args: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nativejobs", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def records(store_uri: str, env: dict[str, str]) -> list[dict[str, Any]]:
    done = nativejobs("results", NAME, "--store", store_uri, "--format", "json", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return sorted(json.loads(done.stdout), key=lambda r: json.dumps(
        {k: v for k, v in r.items() if not isinstance(v, float)}, sort_keys=True))


def done_steps(store: Store) -> set[str]:
    """``kind/key`` of every step whose marker is in the store."""
    return {"/".join(p.split("/")[1:3]) for p in store.list("steps/") if p.endswith("/_SUCCESS.json")}


def wait_for_driver(kube: KubeCluster, ns: str, store: Store, summary: str) -> None:
    batch = client.BatchV1Api(kube.api_client())
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        job = batch.read_namespaced_job(f"nj-driver-{NAME}", ns)
        if job.status.succeeded or job.status.failed:
            break
        time.sleep(5)
    else:
        pytest.fail(f"the detached run did not end within {RUN_TIMEOUT_S} s; steps done: "
                    f"{sorted(done_steps(store))}\n{pod_table(kube, ns)}", pytrace=False)
    if not job.status.succeeded:
        logs = run(kube, "kubectl", "logs", "-n", ns, f"job/nj-driver-{NAME}", "--tail", "60",
                   check=False)
        pytest.fail(f"the driver Job failed\n{logs.stdout}{logs.stderr}\n{pod_table(kube, ns)}",
                    pytrace=False)
    assert summary in done_steps(store), pod_table(kube, ns)


def pods(kube: KubeCluster, ns: str) -> list[Any]:
    return client.CoreV1Api(kube.api_client()).list_namespaced_pod(ns).items


def pod_table(kube: KubeCluster, ns: str) -> str:
    """pod ↔ node ↔ image ↔ step kind ↔ exit code, one line each (kept in the test's output)."""
    lines = []
    for p in pods(kube, ns):
        default = "driver" if "driver" in p.metadata.name else "-"
        kind = (p.metadata.labels or {}).get("nativejobs.io/kind", default)
        state = p.status.container_statuses[0].state if p.status.container_statuses else None
        code = state.terminated.exit_code if state and state.terminated else None
        image = p.spec.containers[0].image
        lines.append(f"{p.metadata.name:48} {p.spec.node_name or '-':18} {kind:10} {image:48} "
                     f"phase={p.status.phase} exit={code}")
    return "\n".join(lines)


def test_a_small_study_runs_in_real_pods_and_matches_the_local_backend(
        kube: KubeCluster, minio: MinioServer, s3_env: MinioServer, real_node: RealNode,  # noqa: F811
        tmp_path: Path) -> None:
    run_and_compare(kube, minio, real_node, study(tmp_path, whole=False), tmp_path)


@pytest.mark.e2e_node
def test_the_quickstart_runs_in_real_pods_and_matches_the_local_backend(
        kube: KubeCluster, minio: MinioServer, s3_env: MinioServer, real_node: RealNode,  # noqa: F811
        tmp_path: Path) -> None:
    """`make e2e-node`: the whole quickstart (34 steps); not part of `make test` (~35 min)."""
    run_and_compare(kube, minio, real_node, study(tmp_path, whole=True), tmp_path)


def run_and_compare(kube: KubeCluster, minio: MinioServer, real_node: RealNode, spec: Path,  # noqa: F811
                    tmp_path: Path) -> None:
    """Submit ``spec`` detached to real pods, check each pod, then run it locally and compare."""
    release = install_chart(kube, minio, "nj-node", *real_node.helm_values(),
                            "--set", f"store.endpointUrl={real_node.endpoint_for_pods(minio.endpoint_url)}")
    ns = release.namespace
    env = {**kube.env(), "AWS_ENDPOINT_URL": minio.endpoint_url, "PYTHONUNBUFFERED": "1"}
    try:
        # The chart's own check, from a real pod: store round trip and RBAC over the pod network.
        tested = run(kube, "helm", "test", RELEASE, "-n", ns, "--logs", "--timeout", "5m", check=False)
        assert tested.returncode == 0, tested.stdout + tested.stderr + pod_table(kube, ns)

        submitted = nativejobs("submit", str(spec), "--backend", "k8s", "--detach", "--namespace", ns,
                               "--store", release.store_uri, env=env)
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr
        assert "local input file(s) to s3://" in submitted.stderr  # pods read the store's copy
        store = open_store(release.store_uri, endpoint_url=minio.endpoint_url)
        summary = f"summarize/{build_plan(load_spec(spec)).summary.key}"
        wait_for_driver(kube, ns, store, summary)

        table = pod_table(kube, ns)
        print(table)  # pod ↔ image ↔ step kind, kept in the test log
        by_kind: dict[str, list[Any]] = {}
        for p in pods(kube, ns):
            kind = (p.metadata.labels or {}).get("nativejobs.io/kind")
            if kind or p.metadata.name.startswith(f"nj-driver-{NAME}"):
                by_kind.setdefault(kind or "driver", []).append(p)
        assert set(by_kind) == {*KINDS, "driver"}, table
        for kind, found in by_kind.items():
            role = IMAGE_ROLE.get(kind, "controller")
            image = real_node.worker_image if role == "worker" else real_node.controller_image
            for p in found:
                status = p.status.container_statuses[0]
                assert p.spec.node_name == NODE_NAME, table  # a real kubelet ran it, not kwok
                assert p.spec.containers[0].image == image, table
                assert status.image_id, table  # the runtime reports the image it ran
                assert status.state.terminated.exit_code == 0, table
                assert p.spec.security_context.run_as_user == 1000, table
        cluster_steps = done_steps(store)
        cluster_records = records(release.store_uri, env)
    finally:
        run(kube, "kubectl", "delete", "namespace", ns, "--wait=false", check=False)

    local_store = tmp_path / "local-store"
    local = nativejobs("submit", str(spec), "--store", str(local_store), env=env, timeout=RUN_TIMEOUT_S)
    assert local.returncode == 0, local.stdout + local.stderr
    assert done_steps(open_store(str(local_store))) == cluster_steps
    assert {s.split("/")[0] for s in cluster_steps} == set(KINDS)
    local_records = records(str(local_store), env)
    assert len(local_records) == len(cluster_records) > 0
    for ours, theirs in zip(local_records, cluster_records, strict=True):
        assert ours.keys() == theirs.keys()
        for field, value in ours.items():
            if isinstance(value, float):
                assert value == pytest.approx(theirs[field], abs=1e-6), (field, ours, theirs)
            else:
                assert value == theirs[field], (field, ours, theirs)
