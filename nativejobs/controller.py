"""Drives one run to its end: the loop a local ``submit`` and the in-cluster driver share.

``Controller.run`` reconciles until nothing is running or launchable; between passes it shares
what only it sees (why launched steps wait, ``runs/<name>/live.json``) and notices a cancel
request (``runs/<name>/cancel.json``), both at most every few seconds so a pass stays cheap on
S3. Steps that die with the controller (local processes) are stopped on every way out but a
normal end; a cluster's Jobs keep running for a resubmit to adopt.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from nativejobs.errors import NativeJobsError
from nativejobs.orchestrate import Backend, EventHandler, Orchestrator, RunStatus
from nativejobs.plan import Plan, Step
from nativejobs.runs import LiveStatus, RunState
from nativejobs.store import Store

__all__ = ["Controller", "RunCancelled"]


class RunCancelled(NativeJobsError):
    """When ``nativejobs cancel`` asked the run to stop; its steps were stopped, finished ones kept."""


class _LiveStatus:
    """Publishes the backend's pending reasons when they change; says whether a cancel was asked."""

    def __init__(self, run_state: RunState, backend: Backend, *, every_s: float,
                 clock: Callable[[], float], monotonic: Callable[[], float]) -> None:
        self.run_state, self.backend, self.every_s = run_state, backend, every_s
        self.clock, self.monotonic = clock, monotonic
        self._last_check: float | None = None
        self._written: dict[str, str] | None = None

    def is_cancel_requested(self) -> bool:
        now = self.monotonic()
        if self._last_check is not None and now - self._last_check < self.every_s:
            return False
        self._last_check = now
        pending = dict(self.backend.pending)
        if pending != self._written:
            self.run_state.put_live(LiveStatus(self.clock(), pending))
            self._written = pending
        return self.run_state.is_cancel_requested()


class Controller:
    """One plan on one backend, to the end: ``todo``, ``forgive_failures``, then ``run``."""

    def __init__(self, plan: Plan, store: Store, backend: Backend, *, max_parallel: int,
                 retries: int, on_event: EventHandler | None = None, live_every_s: float = 5.0,
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.plan, self.store, self.backend = plan, store, backend
        self.run_state = RunState(store, plan.name)
        self.orchestrator = Orchestrator(plan, store, backend, max_parallel=max_parallel,
                                         retries=retries, on_event=on_event, clock=clock)
        self._live = _LiveStatus(self.run_state, backend, every_s=live_every_s, clock=clock,
                                 monotonic=monotonic)

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

