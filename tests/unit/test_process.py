"""A step process never outlives its controller, even when the fork server dies mid-fork."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Stands in for the fork server: forks a "step" that asks to die with it, and maybe exits first.
_FORK_SERVER = """
import os, sys, time
from pathlib import Path
from nativejobs._process import die_with_parent

controller, folder, server_exits_first = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "1"
server = os.getpid()
if os.fork() == 0:
    (folder / "pid").write_text(str(os.getpid()))
    while server_exits_first and os.getppid() == server:
        time.sleep(0.01)
    die_with_parent(grandparent=controller)
    (folder / "alive").write_text("yes")
    time.sleep(60)
    os._exit(0)
if not server_exits_first:
    time.sleep(60)
"""


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"


def _start(tmp_path: Path, *, server_exits_first: bool) -> tuple[subprocess.Popen[bytes], int]:
    server = subprocess.Popen([sys.executable, "-c", _FORK_SERVER, str(os.getpid()), str(tmp_path),
                               "1" if server_exits_first else "0"], cwd=REPO)
    deadline = time.monotonic() + 30
    while not (tmp_path / "pid").exists() or not (tmp_path / "pid").read_text():
        assert time.monotonic() < deadline, "the step never started"
        time.sleep(0.01)
    return server, int((tmp_path / "pid").read_text())


def _wait_gone(pid: int, timeout_s: float = 30) -> bool:
    deadline = time.monotonic() + timeout_s
    while not _gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_step_whose_fork_server_died_before_it_asked_exits_at_once(tmp_path: Path) -> None:
    server, step = _start(tmp_path, server_exits_first=True)
    server.wait(timeout=30)
    assert _wait_gone(step), "the orphaned step kept running"
    assert not (tmp_path / "alive").exists()


def test_a_step_under_a_live_fork_server_runs_and_dies_with_it(tmp_path: Path) -> None:
    server, step = _start(tmp_path, server_exits_first=False)
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "alive").exists():
            assert time.monotonic() < deadline and not _gone(step), "the step did not run on"
            time.sleep(0.02)
    finally:
        server.kill()
        server.wait(timeout=30)
    assert _wait_gone(step), "the step outlived its fork server"
