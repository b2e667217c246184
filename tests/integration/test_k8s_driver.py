"""`submit --backend k8s` as a user runs it, against the chart installed with helm.

The controller runs with the chart's ServiceAccount (a token from `kubectl create token`), never
as cluster-admin: detached, its pod's command runs here with that identity (kwok executes no
containers, see tests/integration/sim_workers.py); attached, the CLI itself uses it. Step pods
are simulated workers that write the marker a real step would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from nativejobs.controller import CONTROLLER_ID_ENV
from nativejobs.plan import build_plan
from nativejobs.spec import load_spec
from nativejobs.store import Store, open_store
from tests.integration.cluster_fixtures import KubeCluster
from tests.integration.conftest import MinioServer
from tests.integration.sim_workers import SimWorkers
from tests.integration.test_chart import install_chart, run, sa_kubeconfig

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "examples" / "quickstart.yaml"


@dataclass(frozen=True)
class Install:
    namespace: str
    store_uri: str
    store: Store
    controller_kubeconfig: Path  # the chart's controller ServiceAccount
    env: dict[str, str]  # the CLI's environment: the controller identity and the store


@pytest.fixture
def install(kube: KubeCluster, minio: MinioServer, s3_env: MinioServer, tmp_path: Path) -> Iterator[Install]:
    release = install_chart(kube, minio, "nj-drive",
                            "--set-json", 'podAnnotations={"nativejobs.io/sim-duration": "1h"}')
    ns, store_uri = release.namespace, release.store_uri
    sa = sa_kubeconfig(kube, ns, "nativejobs-controller", tmp_path / "controller.kubeconfig")
    env = {**os.environ, "KUBECONFIG": str(sa), "AWS_ENDPOINT_URL": minio.endpoint_url,
           "PYTHONUNBUFFERED": "1"}
    try:
        yield Install(ns, store_uri, open_store(store_uri, endpoint_url=minio.endpoint_url), sa, env)
    finally:
        run(kube, "kubectl", "delete", "namespace", ns, "--wait=false", check=False)


def cli(install: Install, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nativejobs", *args], env=install.env, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def step_jobs(kube: KubeCluster, ns: str) -> dict[str, list[str]]:
    jobs = client.BatchV1Api(kube.api_client()).list_namespaced_job(
        ns, label_selector="nativejobs.io/step").items
    out: dict[str, list[str]] = {}
    for job in jobs:
        out.setdefault(job.metadata.labels["nativejobs.io/step"], []).append(job.metadata.name)
    return out


def run_controller_here(install: Install):  # type: ignore[no-untyped-def]
    """Run a driver pod's command in a local process with the pod's identity and store env."""
    def run_it(pod: dict[str, Any]) -> int:
        command = pod["spec"]["containers"][0]["command"]
        assert command[:2] == ["nativejobs", "drive"], command
        assert pod["spec"]["serviceAccountName"] == "nativejobs-controller"
        env = pod["spec"]["containers"][0]["env"]
        holder = {e["name"]: e["value"] for e in env if e["name"] == CONTROLLER_ID_ENV}
        assert holder == {CONTROLLER_ID_ENV: f"job/{install.namespace}/nj-driver-quickstart"}
        done = subprocess.run([sys.executable, "-m", "nativejobs", *command[1:]], env=install.env | holder,
                              cwd=REPO, capture_output=True, text=True, timeout=600)
        run_it.logs.append(done.stdout + done.stderr)  # type: ignore[attr-defined]
        return done.returncode
    run_it.logs = []  # type: ignore[attr-defined]
    return run_it


def wait_for_job(kube: KubeCluster, ns: str, name: str, timeout: float = 300) -> Any:
    batch = client.BatchV1Api(kube.api_client())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = batch.read_namespaced_job(name, ns)
        if job.status.succeeded or job.status.failed:
            return job
        time.sleep(1)
    pytest.fail(f"Job {name} did not finish in {timeout}s")


def test_a_detached_run_is_driven_by_a_job_with_the_chart_service_account(
        kube: KubeCluster, install: Install) -> None:
    plan = build_plan(load_spec(SPEC))
    controller = run_controller_here(install)
    with SimWorkers(kube.api_client(), install.namespace, install.store,
                    lambda kind, key, attempt: "succeed", run_controller=controller):
        submitted = cli(install, "submit", str(SPEC), "--backend", "k8s", "--detach",
                        "--namespace", install.namespace, "--store", install.store_uri)
        assert submitted.returncode == 0, submitted.stderr
        assert "nj-driver-quickstart" in submitted.stdout
        job = wait_for_job(kube, install.namespace, "nj-driver-quickstart")

    assert job.status.succeeded == 1, controller.logs
    assert all(install.store.is_done(s.kind, s.key) for s in plan.steps), controller.logs
    assert {k: len(v) for k, v in step_jobs(kube, install.namespace).items()} == \
        {s.key: 1 for s in plan.steps}
    # Status from anywhere with store access: no Kubernetes credentials at all.
    anywhere = {k: v for k, v in install.env.items() if k != "KUBECONFIG"}
    status = subprocess.run([sys.executable, "-m", "nativejobs", "status", "quickstart", "--all",
                             "--store", install.store_uri], env=anywhere, cwd=REPO, capture_output=True,
                            text=True)
    assert status.returncode == 0 and status.stdout.count("done") >= len(plan.steps), status.stdout
    # A pod's own log: kwok runs no kubelet, so the API server cannot serve it; one line says so.
    logs = cli(install, "logs", "quickstart", plan.steps[0].key[:12], "--store", install.store_uri,
               "--backend", "k8s", "--namespace", install.namespace, timeout=120)
    assert logs.returncode == 1 and "could not serve the log of pod nj-prepare-" in logs.stderr, logs.stderr
    assert "Traceback" not in logs.stderr


def test_cancel_from_anywhere_stops_a_detached_run(kube: KubeCluster, install: Install) -> None:
    controller = run_controller_here(install)
    with SimWorkers(kube.api_client(), install.namespace, install.store,
                    lambda kind, key, attempt: "succeed" if kind == "prepare" else "hang",
                    run_controller=controller):
        assert cli(install, "submit", str(SPEC), "--backend", "k8s", "--detach", "--namespace",
                   install.namespace, "--store", install.store_uri).returncode == 0
        deadline = time.monotonic() + 120
        while not any(k for k in step_jobs(kube, install.namespace)
                      if not install.store.is_done("prepare", k)) and time.monotonic() < deadline:
            time.sleep(0.5)
        anywhere = {k: v for k, v in install.env.items() if k != "KUBECONFIG"}
        cancel = subprocess.run([sys.executable, "-m", "nativejobs", "cancel", "quickstart", "--store",
                                 install.store_uri], env=anywhere, cwd=REPO, capture_output=True, text=True)
        assert cancel.returncode == 0, cancel.stderr
        job = wait_for_job(kube, install.namespace, "nj-driver-quickstart", timeout=120)

    assert job.status.succeeded == 1, controller.logs  # a cancel is a clean end: no restarts
    deadline = time.monotonic() + 60
    while step_jobs(kube, install.namespace) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert step_jobs(kube, install.namespace) == {}
    assert "cancelled" in controller.logs[0]


def test_a_killed_controller_resumes_without_duplicate_jobs(kube: KubeCluster, install: Install) -> None:
    plan = build_plan(load_spec(SPEC))

    def policy(kind: str, key: str, attempt: int) -> str:
        return "succeed" if kind == "prepare" else "hang"  # later pods run until the controller is dead

    args = ["submit", str(SPEC), "--backend", "k8s", "--namespace", install.namespace,
            "--store", install.store_uri]
    with SimWorkers(kube.api_client(), install.namespace, install.store, policy) as sim:
        first = subprocess.Popen([sys.executable, "-m", "nativejobs", *args], env=install.env, cwd=REPO,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 120
        while not any(n.startswith("nj-translate") for v in step_jobs(kube, install.namespace).values()
                      for n in v):
            assert time.monotonic() < deadline and first.poll() is None, "no translate Job was created"
            time.sleep(0.3)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        before = step_jobs(kube, install.namespace)
        sim.switch_policy(lambda kind, key, attempt: "succeed")
        second = cli(install, *args, timeout=300)

    assert second.returncode == 0, second.stdout + second.stderr
    after = step_jobs(kube, install.namespace)
    assert all(len(names) == 1 for names in after.values()), after  # adopted, never recreated
    assert all(after[k] == v for k, v in before.items())
    assert all(install.store.is_done(s.kind, s.key) for s in plan.steps)
    attempts = json.loads(install.store.get_text("runs/quickstart/attempts.json"))
    assert all(len(tries) == 1 for tries in attempts.values()), attempts
