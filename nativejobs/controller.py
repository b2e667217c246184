"""Drives one run to its end: the loop a local ``submit`` and the in-cluster driver share.

``Controller.run`` reconciles until nothing is running or launchable; between passes it shares
what only it sees (why launched steps wait, ``runs/<name>/live.json``) and notices a cancel
request (``runs/<name>/cancel.json``), both at most every few seconds so a pass stays cheap on
S3. Steps that die with the controller (local processes) are stopped on every way out but a
normal end; a cluster's Jobs keep running for a resubmit to adopt.

``RunLease`` keeps two controllers off one run (``runs/<name>/controller.json``): a submit of a
run that another live controller drives is refused before it records anything; one that was
killed is taken over at once on its own host, elsewhere once it has been silent for a minute.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable
from types import TracebackType

from nativejobs.errors import NativeJobsError
from nativejobs.orchestrate import Backend, EventHandler, Orchestrator, RunStatus
from nativejobs.plan import Plan, Step
from nativejobs.runs import ControllerLease, LiveStatus, RunState, drives_run
from nativejobs.store import Store

__all__ = ["CONTROLLER_ID_ENV", "Controller", "RunBusy", "RunCancelled", "RunLease"]

CONTROLLER_ID_ENV = "NATIVEJOBS_CONTROLLER_ID"  # the driver Job's name: each of its pods is the same holder
LEASE_STALE_S = 60.0  # a controller renews every few seconds; a pass on a big cluster plan takes ~10 s


class RunCancelled(NativeJobsError):
    """When ``nativejobs cancel`` asked the run to stop; its steps were stopped, finished ones kept."""


class RunBusy(NativeJobsError):
    """Another live controller drives the run."""


def _pid_alive(pid: int) -> bool:
    if pid <= 0:  # 0 and -1 would name a process group, not a process
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class RunLease:
    """This process's claim to drive one run: ``with RunLease(run_state):`` claims it (RunBusy if
    another live controller holds it), ``renew`` says it is still alive, the end releases it."""

    def __init__(self, run_state: RunState, *, clock: Callable[[], float] = time.time,
                 stale_s: float = LEASE_STALE_S) -> None:
        self.run_state, self.clock, self.stale_s = run_state, clock, stale_s
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.holder = os.environ.get(CONTROLLER_ID_ENV) or f"{self.host}:{self.pid}"

    def check(self) -> None:
        """Raises: RunBusy naming the controller that drives the run, and what to do."""
        lease, now = self.run_state.lease(), self.clock()
        if lease is None or not drives_run(lease, me=self.holder, host=self.host, now=now,
                                           stale_s=self.stale_s, pid_alive=_pid_alive):
            return
        run = f"{self.run_state.name} --store {self.run_state.store.uri}"
        raise RunBusy(f"{self.run_state.name}: another controller drives this run ({lease.describe(now)}); "
                      f"follow it with `nativejobs status {run}`, stop it with `nativejobs cancel {run}`; "
                      f"one killed elsewhere is taken over once silent for {self.stale_s:.0f} s")

    def renew(self) -> None:
        self.run_state.put_lease(ControllerLease(self.holder, self.host, self.pid, self.clock()))

    def __enter__(self) -> RunLease:
        self.check()
        self.renew()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        with contextlib.suppress(Exception):  # a store gone bad must not hide the run's own error
            self.run_state.drop_lease(self.holder)


class _LiveStatus:
    """Every ``every_s``: renews the run's lease, publishes the backend's pending reasons when
    they change, and says whether a cancel was asked."""

    def __init__(self, run_state: RunState, backend: Backend, *, every_s: float,
                 clock: Callable[[], float], monotonic: Callable[[], float],
                 lease: RunLease | None) -> None:
        self.run_state, self.backend, self.every_s, self.lease = run_state, backend, every_s, lease
        self.clock, self.monotonic = clock, monotonic
        self._last_check: float | None = None
        self._written: dict[str, str] | None = None

    def is_cancel_requested(self) -> bool:
        now = self.monotonic()
        if self._last_check is not None and now - self._last_check < self.every_s:
            return False
        self._last_check = now
        if self.lease is not None:
            self.lease.renew()
        pending = dict(self.backend.pending)
        if pending != self._written:
            self.run_state.put_live(LiveStatus(self.clock(), pending))
            self._written = pending
        return self.run_state.is_cancel_requested()


class Controller:
    """One plan on one backend, to the end: ``todo``, ``forgive_failures``, then ``run``."""

    def __init__(self, plan: Plan, store: Store, backend: Backend, *, max_parallel: int,
                 retries: int, on_event: EventHandler | None = None, live_every_s: float = 5.0,
                 lease: RunLease | None = None, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.plan, self.store, self.backend = plan, store, backend
        self.run_state = RunState(store, plan.name)
        self.orchestrator = Orchestrator(plan, store, backend, max_parallel=max_parallel,
                                         retries=retries, on_event=on_event, clock=clock)
        self._live = _LiveStatus(self.run_state, backend, every_s=live_every_s, clock=clock,
                                 monotonic=monotonic, lease=lease)

    def todo(self) -> list[Step]:
        """The steps not done, as the orchestrator judges done (stale markers are not)."""
        return self.orchestrator.todo()

    def forgive_failures(self) -> list[str]:
        """Clear the attempts of terminally failed steps, so this run tries them again."""
        return self.orchestrator.forgive_failures()

    def run(self, *, poll_s: float, on_pass: Callable[[RunStatus], None] | None = None) -> RunStatus:
        """Reconcile until nothing is running or launchable.

        Raises:
            RunCancelled: A cancel was requested; the run's steps were stopped.
            KeyboardInterrupt: Ctrl-C or SIGTERM; local steps were stopped, a cluster's keep running.
        """
        def each_pass(status: RunStatus) -> None:
            if on_pass:
                on_pass(status)
            if self._live.is_cancel_requested():
                raise RunCancelled(f"{self.plan.name}: cancelled (runs/{self.plan.name}/cancel.json); "
                                   "finished steps are kept")

        try:
            return self.orchestrator.run(self.store.uri, on_pass=each_pass, poll_s=poll_s)
        except RunCancelled:
            self.backend.cancel_all()
            raise
        except BaseException:  # Ctrl-C, or e.g. the store turned read-only: no orphaned local steps
            if not self.backend.outlives_controller:
                with contextlib.suppress(Exception):
                    self.backend.cancel_all()
            raise

