"""The local backend: one process per step, running the same entrypoint a Job would.

Steps are forked from a fork server that has imported torch, transformers and peft once
(``nativejobs.steps._preload``), which saves seconds of CPU per step on a laptop. Each step
runs in its own session with stdout and stderr in a log file. Children die with the controller
(PR_SET_PDEATHSIG along the chain controller → fork server → step), so a killed controller
leaves no orphan writing to the store; a resubmit relaunches what was not done.
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import os
import signal
import sys
import time
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path

from nativejobs._process import die_with_parent
from nativejobs.orchestrate import Observation
from nativejobs.plan import Step

__all__ = ["LocalBackend", "log_dir_for"]


def log_dir_for(cache: Path, store_uri: str) -> Path:
    """Where a store's step logs live while they run: one folder per store, because step keys
    (and so log names) are shared by every run and store that plans the same step."""
    return cache / "logs" / hashlib.sha256(store_uri.encode()).hexdigest()[:12]


def local_logs(store_uri: str, kind: str, key: str) -> dict[int, Path]:
    """Attempt number -> this machine's log file of a step run here for ``store_uri``."""
    from nativejobs.engines.models import cache_dir

    found = log_dir_for(cache_dir(), store_uri).glob(f"{kind}-{key}-attempt-*.log")
    return {int(p.name.rsplit("-", 1)[1].removesuffix(".log")): p for p in found}


def _step_main(store_uri: str, ref: str, log_path: str, env: dict[str, str]) -> None:
    """Body of a step process: own session, logs to a file, then the shared entrypoint."""
    os.setsid()
    # The fork server may die with the controller between its fork and this call: then the
    # kernel never kills us, so check the chain controller → fork server → us ourselves.
    controller = multiprocessing.parent_process()
    die_with_parent(grandparent=controller.pid if controller else None)
    os.environ.update(env)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stderr = sys.stdout
    from nativejobs.steps.__main__ import main

    # SystemExit, not os._exit: multiprocessing then runs its finalizers (tqdm's semaphores).
    sys.exit(main(["run", "--store", store_uri, "--step", ref]))


@dataclass
class _Child:
    proc: BaseProcess
    log_path: Path


class LocalBackend:
    """Runs each step as a forked process of a warm fork server."""

    outlives_controller = False  # children die with the controller
    launch_concurrency = 1  # a fork is cheap; the fork server serves one request at a time

    def __init__(self, *, log_dir: Path, threads_per_step: int, preload: bool = True) -> None:
        self.log_dir = log_dir
        self.threads = threads_per_step
        self._mp = multiprocessing.get_context("forkserver")
        if preload:
            self._mp.set_forkserver_preload(["nativejobs.steps._preload"])
        self._children: dict[str, _Child] = {}
        self.pending: dict[str, str] = {}  # a forked process runs at once: it never waits

    def log_path(self, step: Step, attempt: int) -> Path:
        return self.log_dir / f"{step.kind}-{step.key}-attempt-{attempt}.log"

    def launch(self, step: Step, *, store_uri: str, attempt: int) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        path = self.log_path(step, attempt)
        env = {"NATIVEJOBS_THREADS": str(self.threads), "PYTHONUNBUFFERED": "1",
               "OMP_NUM_THREADS": str(self.threads), "TOKENIZERS_PARALLELISM": "false"}
        proc = self._mp.Process(target=_step_main, args=(store_uri, step.ref, str(path), env),
                                name=f"nativejobs-{step.kind}-{step.key[:8]}")
        proc.start()
        self._children[step.key] = _Child(proc, path)

    def observe(self) -> dict[str, Observation]:
        out = {}
        for key, child in self._children.items():
            code = child.proc.exitcode
            if code is None:
                out[key] = Observation(key, "running")
            else:
                reason = f"killed by signal {-code}" if code < 0 else ""
                out[key] = Observation(key, "succeeded" if code == 0 else "failed", code, reason)
        return out

    def release(self, key: str) -> str:
        child = self._children.pop(key)
        child.proc.join()
        child.proc.close()
        return child.log_path.read_text(encoding="utf-8", errors="replace")

    def cancel_all(self, grace_s: float = 10.0) -> None:
        """Stop every child: SIGTERM to its process group, SIGKILL after ``grace_s``."""
        for child in self._children.values():
            _signal_group(child.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for child in self._children.values():
            child.proc.join(timeout=max(0.0, deadline - time.monotonic()))
            if child.proc.exitcode is None:
                _signal_group(child.proc.pid, signal.SIGKILL)
                child.proc.join()
        self._children.clear()


def _signal_group(pid: int | None, sig: signal.Signals) -> None:
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)
