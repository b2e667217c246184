"""A real node for the integration tests: containerd, a kubelet, and the project's images.

``real_node`` (session) needs the local control plane (``kube``) and, as root, brings up what
the kwok nodes only pretend to be:

- ``scripts/runtime.sh up``: containerd and the Docker engine from Debian's packages;
- ``scripts/node.sh images``: ``images/build.sh worker controller`` with ``BASE_IMAGE=local``
  (a debootstrap base, no registry), CPU extras and the quickstart model: the images users
  build, keyed by a hash of their inputs, so a second run builds nothing; then loaded into the
  node's containerd (an image already there is not imported again);
- ``scripts/node.sh up`` (a kubelet
  built from Go modules joins the cluster as ``nativejobs-node``, tainted and labelled
  ``nativejobs.io/real-node=true``); ``down`` at teardown.

Pods reach the apiserver at its Service IP and any loopback server (MinIO) at the pod bridge's
gateway ``10.89.0.1`` on the same port. Nothing is skipped: if a part cannot be built or
started, the tests that use it fail with the reason.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.cluster_fixtures import KubeCluster

REPO = Path(__file__).resolve().parents[2]
NODE_NAME = "nativejobs-node"
POD_GATEWAY = "10.89.0.1"
NODE_LABEL = "nativejobs.io/real-node"
# Cold: a debootstrap base, a 7 GB worker image (PyPI's torch carries CUDA) and its import.
_BUILD_TIMEOUT_S = int(os.environ.get("NATIVEJOBS_IMAGE_BUILD_TIMEOUT", "3600"))


@dataclass(frozen=True)
class RealNode:
    """A kubelet node of the local cluster and the images it holds."""

    worker_image: str
    controller_image: str

    def helm_values(self) -> list[str]:
        """Chart values that run every pod of a release on this node, on these images."""
        images = {"translate": self.worker_image, "train": self.worker_image, "eval": self.worker_image,
                  "controller": self.controller_image}
        return [*(a for role, ref in images.items() for a in ("--set", f"images.{role}={ref}")),
                "--set", "imagePullPolicy=Never",
                "--set-string", "nodeSelector.nativejobs\\.io/real-node=true",
                "--set", f"tolerations[0].key={NODE_LABEL}", "--set", "tolerations[0].operator=Exists",
                "--set", "tolerations[0].effect=NoSchedule"]

    @staticmethod
    def endpoint_for_pods(host_url: str) -> str:
        """A loopback server's URL as pods see it (the bridge gateway forwards to 127.0.0.1)."""
        return host_url.replace("127.0.0.1", POD_GATEWAY).replace("localhost", POD_GATEWAY)


def _run(args: list[str], env: dict[str, str], timeout: int, what: str) -> str:
    try:
        done = subprocess.run(args, env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{what} took over {timeout} s: `{' '.join(args)}`", pytrace=False)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-40:])
        pytest.fail(f"{what} failed: `{' '.join(args)}` exited {done.returncode}\n{tail}", pytrace=False)
    return done.stdout


@pytest.fixture(scope="session")
def real_node(kube: KubeCluster) -> Iterator[RealNode]:
    if os.geteuid() != 0:
        pytest.fail("the real-node tests need root (containerd, iptables, a kubelet)", pytrace=False)
    if kube.state_dir is None:
        pytest.fail("the real-node tests need the local cluster of scripts/cluster.sh (unset KUBECONFIG)",
                    pytrace=False)
    env = {**kube.env(), "NATIVEJOBS_CLUSTER_DIR": str(kube.state_dir)}
    runtime = REPO / "scripts" / "runtime.sh"
    was_up = subprocess.run([str(runtime), "status"], capture_output=True).returncode == 0
    node = REPO / "scripts" / "node.sh"
    worker, controller = _run([str(node), "images"], env, _BUILD_TIMEOUT_S,
                              "building the images and loading them into the node").split()[-2:]
    try:
        _run([str(node), "up"], env, 600, "starting the real node")
        yield RealNode(worker_image=worker, controller_image=controller)
    finally:
        subprocess.run([str(node), "down"], env=env, cwd=REPO, capture_output=True, timeout=300)
        if not was_up:  # stop only what this session started
            subprocess.run([str(runtime), "down"], cwd=REPO, capture_output=True, timeout=120)
