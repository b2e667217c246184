"""The local backend: one subprocess per step, running the same entrypoint a Job would.

Children die with the controller (PR_SET_PDEATHSIG), so a killed controller leaves no orphan
writing to the store; a resubmit relaunches what was not done.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from nativejobs.orchestrate import Observation
from nativejobs.plan import Step

__all__ = ["LocalBackend"]

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:  # not Linux: children may outlive a SIGKILLed controller
        pass


@dataclass
class _Child:
    proc: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]


class LocalBackend:
    """Runs each step as ``python -m nativejobs.steps run`` in its own process group."""

    def __init__(self, *, log_dir: Path, threads_per_step: int) -> None:
        self.log_dir = log_dir
        self.threads = threads_per_step
        self._children: dict[str, _Child] = {}

    def log_path(self, step: Step, attempt: int) -> Path:
        return self.log_dir / f"{step.kind}-{step.key}-attempt-{attempt}.log"

    def launch(self, step: Step, *, store_uri: str, attempt: int) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        path = self.log_path(step, attempt)
        log_file = path.open("wb")
        env = {**os.environ, "NATIVEJOBS_THREADS": str(self.threads), "PYTHONUNBUFFERED": "1",
               "OMP_NUM_THREADS": str(self.threads), "TOKENIZERS_PARALLELISM": "false"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "nativejobs.steps", "run", "--store", store_uri, "--step", step.ref],
            stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True, preexec_fn=_die_with_parent)
        self._children[step.key] = _Child(proc, path, log_file)

    def observe(self) -> dict[str, Observation]:
        out = {}
        for key, child in self._children.items():
            code = child.proc.poll()
            if code is None:
                out[key] = Observation(key, "running")
            else:
                reason = f"killed by signal {-code}" if code < 0 else ""
                out[key] = Observation(key, "succeeded" if code == 0 else "failed", code, reason)
        return out

    def release(self, key: str) -> str:
        child = self._children.pop(key)
        child.log_file.close()
        return child.log_path.read_text(encoding="utf-8", errors="replace")

    def cancel_all(self, grace_s: float = 10.0) -> None:
        """Stop every child: SIGTERM to its process group, SIGKILL after ``grace_s``."""
        for child in self._children.values():
            _signal_group(child.proc, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for child in self._children.values():
            try:
                child.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(child.proc, signal.SIGKILL)
                child.proc.wait()
            child.log_file.close()
        self._children.clear()


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
