"""A real Kubernetes control plane for the integration tests.

``kube`` (session) gives the tests a cluster:

- if ``KUBECONFIG`` is set, that cluster is used as it is (nothing is started or stopped; one
  from ``eval "$(scripts/cluster.sh up)"`` counts as local, with its fake GPU nodes);
- otherwise ``scripts/cluster.sh build`` makes sure the pinned binaries are cached (the first
  time this takes long: Kubernetes is compiled from the Go module proxy), and
  ``scripts/cluster.sh up`` starts etcd, kube-apiserver, kube-controller-manager,
  kube-scheduler and kwok with fake GPU nodes in a temporary state dir; ``down`` at teardown.

Nothing is mocked and nothing is skipped: if the cluster cannot be built or started, the tests
that use it fail with the reason. How pods behave on the fake nodes (run, exit code, eviction)
is documented in k8s/local/kwok-stages.yaml.

Import ``kube`` into a conftest (``from tests.integration.cluster_fixtures import kube``) or a
test module; doing both is harmless: the cluster is one per process, shared and reference-counted.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

_REPO_ROOT = Path(__file__).resolve().parents[2]
_SCRIPT = _REPO_ROOT / "scripts" / "cluster.sh"
_BUILD_TIMEOUT_S = int(os.environ.get("NATIVEJOBS_CLUSTER_BUILD_TIMEOUT", "5400"))  # cold: long
_UP_TIMEOUT_S = 600
_DOWN_TIMEOUT_S = 120


@dataclass(frozen=True)
class KubeCluster:
    """A cluster the tests may use: its kubeconfig and, for a local one, its tools."""

    kubeconfig: Path
    # The cached binaries (kubectl, helm, kube-apiserver, etcd, kwok, ...); None if the cluster
    # came from KUBECONFIG and no local build exists.
    bin_dir: Path | None
    # The state dir of a scripts/cluster.sh cluster (certs; logs under logs/); None for others.
    state_dir: Path | None

    @property
    def local(self) -> bool:
        """Whether this is the local kwok cluster of scripts/cluster.sh (fake GPU nodes)."""
        return self.state_dir is not None

    def env(self) -> dict[str, str]:
        """os.environ with KUBECONFIG pointing here (for subprocesses: kubectl, helm, the CLI)."""
        env = dict(os.environ, KUBECONFIG=str(self.kubeconfig))
        if self.bin_dir is not None:
            env["PATH"] = f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        return env

    def tool(self, name: str) -> str:
        """The path of a cached tool (``kubectl``, ``helm``), else the one on PATH."""
        if self.bin_dir is not None and (self.bin_dir / name).is_file():
            return str(self.bin_dir / name)
        found = shutil.which(name)
        if found is None:
            pytest.fail(f"no {name} in {self.bin_dir} or on PATH", pytrace=False)
        return found

    def run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``kubectl``/``helm`` against this cluster; fail the test with its output if asked."""
        done = subprocess.run(
            [self.tool(tool), *args], env=self.env(), capture_output=True, text=True, timeout=300
        )
        if check and done.returncode != 0:
            pytest.fail(
                f"{tool} {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}",
                pytrace=False,
            )
        return done

    def api_client(self) -> Any:
        """A new ``kubernetes.client.ApiClient`` for this cluster's current context."""
        from kubernetes import config

        return config.new_client_from_config(config_file=str(self.kubeconfig))


def _script(*args: str, env: dict[str, str], timeout: int) -> subprocess.CompletedProcess[str]:
    """Run scripts/cluster.sh in a session of its own; on timeout stop it and its children
    (a build's go compilers) together, then fail the test."""
    cmd = [str(_SCRIPT), *args]
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
        pytest.fail(
            f"`{_SCRIPT} {' '.join(args)}` took over {timeout} s; run it by hand to see why",
            pytrace=False,
        )
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _exports(stdout: str) -> dict[str, str]:
    return dict(re.findall(r"^export (\w+)=(.*)$", stdout, flags=re.M))


def _start_local() -> tuple[KubeCluster, dict[str, str]]:
    env = dict(os.environ)
    built = _script("build", env=env, timeout=_BUILD_TIMEOUT_S)
    if built.returncode != 0:
        pytest.fail(
            f"could not build the local Kubernetes cluster: `{_SCRIPT} build` exited "
            f"{built.returncode}; it needs Go >= 1.26 and the Go module proxy.\n" + _tail(built.stderr),
            pytrace=False,
        )
    state_dir = Path(tempfile.mkdtemp(prefix="nativejobs-kube-"))
    env["NATIVEJOBS_CLUSTER_DIR"] = str(state_dir)
    try:
        started = _script("up", env=env, timeout=_UP_TIMEOUT_S)
    except BaseException:  # timed out or interrupted: stop whatever did start
        _script("down", env=env, timeout=_DOWN_TIMEOUT_S)
        shutil.rmtree(state_dir, ignore_errors=True)
        raise
    exports = _exports(started.stdout)
    if started.returncode != 0 or "KUBECONFIG" not in exports:
        _script("down", env=env, timeout=_DOWN_TIMEOUT_S)
        shutil.rmtree(state_dir, ignore_errors=True)
        pytest.fail(
            f"could not start the local Kubernetes cluster: `{_SCRIPT} up` exited "
            f"{started.returncode}\n" + _tail(started.stderr),
            pytrace=False,
        )
    cluster = KubeCluster(
        kubeconfig=Path(exports["KUBECONFIG"]),
        bin_dir=Path(exports["NATIVEJOBS_K8S_BIN"]),
        state_dir=state_dir,
    )
    return cluster, env


def _given(kubeconfig: str) -> KubeCluster:
    bin_dir = None
    found = _script("bin", env=dict(os.environ), timeout=30)
    if found.returncode == 0 and found.stdout.strip():
        bin_dir = Path(found.stdout.strip().splitlines()[-1])
    path = Path(kubeconfig)
    # A cluster that scripts/cluster.sh started (eval "$(scripts/cluster.sh up)") is local too:
    # its kubeconfig sits in a state dir holding the script's marker file.
    state_dir = path.parent if (path.parent / ".nativejobs-cluster").is_file() else None
    return KubeCluster(kubeconfig=path, bin_dir=bin_dir, state_dir=state_dir)


# One cluster per process, however many times the fixture is registered (conftest + module).
_lock = threading.Lock()
_shared: dict[str, Any] = {"cluster": None, "env": None, "users": 0}


@pytest.fixture(scope="session")
def kube() -> Iterator[KubeCluster]:
    """A Kubernetes cluster for the session: $KUBECONFIG's, else a local one started here."""
    with _lock:
        if _shared["cluster"] is None:
            given = os.environ.get("KUBECONFIG")
            if given:
                _shared["cluster"], _shared["env"] = _given(given), None
            else:
                _shared["cluster"], _shared["env"] = _start_local()
        _shared["users"] += 1
        cluster: KubeCluster = _shared["cluster"]
    try:
        yield cluster
    finally:
        with _lock:
            _shared["users"] -= 1
            if _shared["users"] == 0 and _shared["env"] is not None:
                done = _script("down", env=_shared["env"], timeout=_DOWN_TIMEOUT_S)
                if cluster.state_dir is not None:
                    shutil.rmtree(cluster.state_dir, ignore_errors=True)
                _shared["cluster"] = _shared["env"] = None
                if done.returncode != 0:
                    pytest.fail(
                        f"`{_SCRIPT} down` exited {done.returncode}:\n" + _tail(done.stderr),
                        pytrace=False,
                    )
