"""One controller per run (``RunLease``, ``runs/<name>/controller.json``).

A second submit of a run that a live controller drives is refused before it records anything;
a killed controller is taken over at once on its own host and, elsewhere, once silent for
``stale_s``; a driver Job's pods share one identity, so its restarted pod takes over at once.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from nativejobs import cli
from nativejobs.controller import CONTROLLER_ID_ENV, Controller, RunBusy, RunCancelled, RunLease
from nativejobs.plan import build_plan
from nativejobs.runs import ControllerLease, RunRecord, RunState, drives_run
from nativejobs.spec import load_spec
from nativejobs.store import FileStore
from tests.unit.builders import make_plan, make_spec
from tests.unit.test_runs import StuckBackend

HOST = socket.gethostname()


def dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    return int(proc.stdout)


@pytest.mark.parametrize(("lease", "held"), [
    pytest.param(None, False, id="no-lease"),
    pytest.param(ControllerLease("me", "h1", 1, 100.0), False, id="ours"),
    pytest.param(ControllerLease("other", "h2", 1, 100.0), True, id="other-host-fresh"),
    pytest.param(ControllerLease("other", "h2", 1, 30.0), False, id="other-host-silent"),
    pytest.param(ControllerLease("h1:7", "h1", 7, 100.0), True, id="same-host-alive"),
    pytest.param(ControllerLease("h1:8", "h1", 8, 100.0), False, id="same-host-dead"),
])
def test_drives_run(lease: ControllerLease | None, held: bool) -> None:
    assert drives_run(lease, me="me", host="h1", now=120.0, stale_s=60.0,
                      pid_alive=lambda pid: pid == 7) is held


@pytest.fixture
def state(tmp_path: Path) -> RunState:
    return RunState(FileStore(tmp_path / "store"), "quickstart")


def test_a_live_controller_elsewhere_keeps_the_run(state: RunState) -> None:
    state.put_lease(ControllerLease("job/ns/nj-driver-quickstart", "pod-1", 1, 1000.0))

    with pytest.raises(RunBusy, match=r"job/ns/nj-driver-quickstart, heard from 10 s ago.*nativejobs cancel"):
        RunLease(state, clock=lambda: 1010.0).check()

    with RunLease(state, clock=lambda: 1061.0) as lease:  # silent for over a minute: taken over
        assert state.lease() == ControllerLease(lease.holder, HOST, os.getpid(), 1061.0)
    assert state.lease() is None  # released at the end


def test_a_killed_controller_on_this_host_is_taken_over_at_once(state: RunState) -> None:
    pid = dead_pid()
    state.put_lease(ControllerLease(f"{HOST}:{pid}", HOST, pid, 1000.0))

    with RunLease(state, clock=lambda: 1001.0):
        assert state.lease().holder == f"{HOST}:{os.getpid()}"  # type: ignore[union-attr]


def test_a_driver_jobs_new_pod_is_the_same_holder(state: RunState, monkeypatch: pytest.MonkeyPatch) -> None:
    state.put_lease(ControllerLease("job/ns/nj-driver-quickstart", "pod-1", 1, 1000.0))
    monkeypatch.setenv(CONTROLLER_ID_ENV, "job/ns/nj-driver-quickstart")

    with RunLease(state, clock=lambda: 1001.0):
        assert state.lease().host == HOST  # type: ignore[union-attr]


def test_the_end_releases_only_its_own_lease(state: RunState) -> None:
    with RunLease(state, clock=lambda: 5.0) as lease:
        state.put_lease(ControllerLease("someone-later", "h9", 1, 6.0))  # took it over meanwhile
    assert state.lease() == ControllerLease("someone-later", "h9", 1, 6.0)
    assert lease.holder != "someone-later"


def test_the_controller_renews_its_lease_as_it_runs(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "store")
    plan, now, clock = make_plan(), [100.0], [1000.0]
    state = RunState(store, plan.name)
    heard: list[float] = []

    def on_pass(_: Any) -> None:
        heard.append(state.lease().heard_at)  # type: ignore[union-attr]
        if len(heard) == 3:
            state.request_cancel(now=1.0)
        now[0] += 6.0  # every pass is past live_every_s: each renews
        clock[0] += 6.0

    with RunLease(state, clock=lambda: clock[0]) as lease:
        controller = Controller(plan, store, StuckBackend(), max_parallel=4, retries=0, live_every_s=5.0,
                                lease=lease, clock=lambda: clock[0], monotonic=lambda: now[0])
        with pytest.raises(RunCancelled):
            controller.run(poll_s=0.0, on_pass=on_pass)

    assert heard == [1000.0, 1006.0, 1012.0]


def test_a_second_submit_is_refused_and_records_nothing(tmp_path: Path, capsys: Any) -> None:
    doc = make_spec(store=str(tmp_path / "store"))
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(doc), encoding="utf-8")
    plan = build_plan(load_spec(spec))
    state = RunState(FileStore(tmp_path / "store"), plan.name)
    state.put_record(RunRecord.of(doc, plan, now=1.0))
    state.request_cancel(now=2.0)
    state.put_lease(ControllerLease(f"{HOST}:{os.getppid()}", HOST, os.getppid(), 9e18))  # alive, here
    before = state.store.get_text(f"runs/{plan.name}/run.json")

    with pytest.raises(SystemExit) as exit_:
        cli.main(["submit", str(spec)])

    assert exit_.value.code == 1
    err = " ".join(capsys.readouterr().err.split())
    assert f"another controller drives this run ({HOST}:{os.getppid()}" in err
    assert state.store.get_text(f"runs/{plan.name}/run.json") == before
    assert state.is_cancel_requested()  # the running controller still sees the cancel

    with pytest.raises(SystemExit):
        cli.main(["status", plan.name, "--store", str(tmp_path / "store")])
    assert f"driven by {HOST}:{os.getppid()}" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("text", ["{not json", '{"holder": "x"}', '["a"]', '{"holder": "x", "host": "h", '
                                  '"pid": "abc", "heard_at": 1}'])
def test_an_unreadable_lease_keeps_no_controller_off(state: RunState, text: str) -> None:
    state.store.put_text("runs/quickstart/controller.json", text)

    with RunLease(state, clock=lambda: 5.0) as lease:
        assert state.lease() == ControllerLease(lease.holder, HOST, os.getpid(), 5.0)
