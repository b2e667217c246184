"""The orchestrator: ``classify`` as a table, then ``reconcile`` pass by pass.

``FakeBackend`` is the seam (STYLE.md 5, 9): it implements the Backend protocol in memory, and
the test decides when a launched step finishes, with which exit code or reason, and whether it
wrote its marker first. The store is a real FileStore on tmp_path, so markers, attempts and
step definitions are the real files. Backoff is ``lambda n: 0`` unless a test is about backoff.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nativejobs.errors import BackendError
from nativejobs.orchestrate import Observation, Orchestrator, Outcome, RunStatus, State, classify
from nativejobs.plan import Plan, Step
from nativejobs.store import FileStore, Store, step_dir
from tests.unit.builders import make_plan, steps_where


# -- classify ------------------------------------------------------------------------------------
def obs(phase: str, exit_code: int | None = None, reason: str = "") -> Observation:
    return Observation("k", phase, exit_code, reason)  # type: ignore[arg-type]


CLASSIFY = [
    pytest.param(obs("succeeded", 0), True, Outcome.DONE, id="succeeded-with-marker"),
    pytest.param(obs("failed", 1), True, Outcome.DONE, id="marker-wins-over-exit-1"),
    pytest.param(obs("failed", 3), True, Outcome.DONE, id="marker-wins-over-exit-3"),
    pytest.param(obs("failed", 137, "Evicted"), True, Outcome.DONE, id="marker-wins-over-eviction"),
    pytest.param(obs("failed", 3), False, Outcome.BAD_INPUT, id="exit-3-bad-input"),
    pytest.param(obs("failed", 3, "Evicted"), False, Outcome.BAD_INPUT, id="exit-3-beats-reason"),
    pytest.param(obs("failed", 137, "Evicted"), False, Outcome.RETRY_FREE, id="evicted"),
    pytest.param(obs("failed", None, "DisruptionTarget"), False, Outcome.RETRY_FREE,
                 id="disruption-target"),
    pytest.param(obs("failed", 4), False, Outcome.RETRY_FREE, id="exit-4-input-damaged"),
    pytest.param(obs("failed", 4), True, Outcome.DONE, id="marker-wins-over-exit-4"),
    pytest.param(obs("failed", 1), False, Outcome.RETRY, id="exit-1"),
    pytest.param(obs("failed", 137, "OOMKilled"), False, Outcome.RETRY, id="oom-killed"),
    pytest.param(obs("failed", None, "DeadlineExceeded"), False, Outcome.RETRY, id="deadline"),
    pytest.param(obs("failed", None), False, Outcome.RETRY, id="no-exit-code"),
    pytest.param(obs("succeeded", 0), False, Outcome.RETRY, id="succeeded-without-marker"),
]


@pytest.mark.parametrize(("observation", "has_marker", "expected"), CLASSIFY)
def test_classify(observation: Observation, has_marker: bool, expected: Outcome) -> None:
    assert classify(observation, has_marker=has_marker) is expected


# -- the fake backend ----------------------------------------------------------------------------
class FakeBackend:
    """An in-memory Backend: launched steps run until the test finishes them."""

    launch_concurrency = 1

    def __init__(self, store: Store) -> None:
        self.store = store
        self.launches: list[tuple[str, int]] = []  # (step key, attempt) in launch order
        self.definitions_at_launch: dict[str, Any] = {}
        self.released: list[str] = []
        self.cancelled = False
        self._steps: dict[str, Step] = {}
        self._seen: dict[str, Observation] = {}

    # The Backend protocol.
    def launch(self, step: Step, *, store_uri: str, attempt: int) -> None:
        assert store_uri == self.store.uri
        assert step.key not in self._seen, f"{step.ref} launched while the backend still has it"
        definition = f"{step_dir(step.kind, step.key)}/_step.json"
        self.definitions_at_launch[step.key] = (self.store.get_json(definition)
                                                if self.store.exists(definition) else None)
        self.launches.append((step.key, attempt))
        self._steps[step.key] = step
        self._seen[step.key] = Observation(step.key, "running")

    def observe(self) -> dict[str, Observation]:
        return dict(self._seen)

    def release(self, key: str) -> str:
        assert self._seen[key].phase != "running", f"released running step {key}"
        del self._seen[key]
        self.released.append(key)
        return f"starting {key}\nworking\nlast words of {key}\n\n"

    def cancel_all(self) -> None:
        self.cancelled = True
        self._seen.clear()

    # What the test controls.
    def running(self) -> list[str]:
        return [k for k, o in self._seen.items() if o.phase == "running"]

    def finish(self, key: str, *, marker: bool = True, exit_code: int = 0,
               reason: str = "") -> None:
        assert self._seen[key].phase == "running", f"{key} is not running"
        if marker:
            step = self._steps[key]
            self.store.put_marker(step.kind, step.key, {"by": "fake"})
        phase = "succeeded" if exit_code == 0 and not reason else "failed"
        self._seen[key] = Observation(key, phase, exit_code, reason)  # type: ignore[arg-type]

    def write_marker(self, key: str) -> None:
        """The step's process wrote its marker and has not exited yet."""
        step = self._steps[key]
        self.store.put_marker(step.kind, step.key, {"by": "fake"})

    def keep_running(self, key: str, step: Step) -> None:
        """A step some earlier controller launched and that is still running."""
        self._steps[key] = step
        self._seen[key] = Observation(key, "running")

    def attempts_of(self, key: str) -> list[int]:
        return [a for k, a in self.launches if k == key]


@pytest.fixture
def plan() -> Plan:
    """es × {native, translated} × one model × one arm × one benchmark: 7 steps."""
    return make_plan()


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FileStore:
    """A real FileStore. fsync is a no-op here only for speed (a few ms per write on some disks,
    hundreds of writes per test); durability is the store's contract, tested in test_store.py."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)
    return FileStore(tmp_path / "store")


@pytest.fixture
def backend(store: FileStore) -> FakeBackend:
    return FakeBackend(store)


def orchestrator(plan: Plan, store: Store, backend: FakeBackend, *, max_parallel: int = 4,
                 retries: int = 1, backoff: float = 0.0,
                 events: list[Any] | None = None,
                 clock: Callable[[], float] = time.time) -> Orchestrator:
    """An Orchestrator with a constant backoff; ``events`` collects (what, key, message)."""
    def on_event(what: str, step: Step, message: str) -> None:
        if events is not None:
            events.append((what, step.key, message))

    return Orchestrator(plan, store, backend, max_parallel=max_parallel, retries=retries,
                        backoff_s=lambda n: backoff, on_event=on_event, clock=clock)


def one(plan: Plan, kind: str, **labels: str) -> Step:
    (step,) = steps_where(plan, kind, **labels)
    return step


def drive(orch: Orchestrator, backend: FakeBackend, store: Store, *, fail: dict[str, dict[str, Any]]
          | None = None, passes: int = 50) -> RunStatus:
    """Reconcile, finishing every running step (with ``fail[key]`` if given), until finished."""
    fail = fail or {}
    for _ in range(passes):
        status = orch.reconcile(store.uri)
        if status.finished:
            return status
        for key in backend.running():
            backend.finish(key, **fail.get(key, {}))
    raise AssertionError(f"run did not finish in {passes} passes: {status.counts()}")


# -- launching -----------------------------------------------------------------------------------
def test_plan_fixture_shape(plan: Plan) -> None:
    assert dict(plan.counts()) == {"prepare": 2, "translate": 1, "train": 2, "evaluate": 2,
                                   "summarize": 1}


def test_first_pass_launches_only_steps_without_inputs(plan: Plan, store: FileStore,
                                                       backend: FakeBackend) -> None:
    status = orchestrator(plan, store, backend).reconcile(store.uri)

    prepare = one(plan, "prepare", what="native sample")
    assert backend.launches == [(prepare.key, 1)]
    assert status.states[prepare.key] is State.RUNNING
    assert status.counts()[State.WAITING] == len(plan.steps) - 1
    assert not status.finished


def test_steps_launch_once_their_inputs_are_done(plan: Plan, store: FileStore,
                                                 backend: FakeBackend) -> None:
    orch = orchestrator(plan, store, backend)
    prepare = one(plan, "prepare", what="native sample")
    orch.reconcile(store.uri)
    backend.finish(prepare.key)

    status = orch.reconcile(store.uri)

    second_wave = {one(plan, "prepare", what="English sample").key,
                   one(plan, "train", condition="native").key}
    assert {k for k, _ in backend.launches[1:]} == second_wave
    assert status.states[prepare.key] is State.DONE
    for step in plan.steps:
        if step.key in second_wave:
            assert status.states[step.key] is State.RUNNING
        elif step.key != prepare.key:
            assert status.states[step.key] is State.WAITING, step.ref


def test_a_finished_step_without_its_marker_does_not_release_downstream(
        plan: Plan, store: FileStore, backend: FakeBackend) -> None:
    orch = orchestrator(plan, store, backend, backoff=3600)
    prepare = one(plan, "prepare", what="native sample")
    orch.reconcile(store.uri)
    backend.finish(prepare.key, marker=False)

    status = orch.reconcile(store.uri)

    assert backend.launches == [(prepare.key, 1)]
    assert status.states[prepare.key] is State.WAITING  # backing off before attempt 2


@pytest.mark.parametrize("max_parallel", [1, 3])
def test_max_parallel_is_respected(store: FileStore, max_parallel: int) -> None:
    # A wide plan: two languages × two conditions gives four steps ready at once after prepare.
    wide = make_plan(languages=["es", "ru"])
    backend = FakeBackend(store)
    orch = orchestrator(wide, store, backend, max_parallel=max_parallel)
    peak = 0

    for _ in range(60):
        status = orch.reconcile(store.uri)
        running = backend.running()
        peak = max(peak, len(running))
        assert len(running) <= max_parallel
        if status.finished:
            break
        backend.finish(running[0])  # one at a time, so the backlog builds up

    assert status.succeeded
    assert peak == max_parallel
    assert len(backend.launches) == len(wide.steps)


def test_translations_launch_before_training(plan: Plan, store: FileStore,
                                             backend: FakeBackend) -> None:
    orch = orchestrator(plan, store, backend, max_parallel=1)
    orch.reconcile(store.uri)
    backend.finish(one(plan, "prepare", what="native sample").key)
    orch.reconcile(store.uri)
    backend.finish(one(plan, "prepare", what="English sample").key)

    orch.reconcile(store.uri)  # translate and native training are both ready now

    assert backend.launches[-1][0] == one(plan, "translate").key


def test_step_definition_is_written_before_launch(plan: Plan, store: FileStore,
                                                  backend: FakeBackend) -> None:
    status = drive(orchestrator(plan, store, backend), backend, store)

    assert status.succeeded
    for step in plan.steps:
        written = backend.definitions_at_launch[step.key]
        assert written is not None, f"{step.ref} launched before its _step.json existed"
        assert written == step.definition()
        assert written["inputs"] == [vars(i) for i in step.inputs]


class OverlappingStore(FileStore):
    """A store whose writes return only once ``concurrency`` of them are in flight together."""

    concurrency = 4

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.barrier = threading.Barrier(self.concurrency, timeout=5)

    def put_json(self, path: str, obj: Any) -> None:
        if path.endswith("_step.json"):
            self.barrier.wait()
        super().put_json(path, obj)


def test_step_definitions_are_written_many_at_once_before_any_launch(tmp_path: Path) -> None:
    wide = Plan("wide", tuple(Step("prepare", f"{i:024x}", {"i": i}) for i in range(8)))
    store = OverlappingStore(tmp_path / "store")
    backend = FakeBackend(store)

    orchestrator(wide, store, backend, max_parallel=8).reconcile(store.uri)

    assert len(backend.launches) == 8
    assert all(backend.definitions_at_launch[s.key] == s.definition() for s in wide.steps)


def test_a_pass_stops_launching_when_its_time_is_up_and_the_next_comes_at_once(
        store: FileStore, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    """Launching a big plan in one pass recorded no end and saw no cancel for minutes."""
    wide = Plan("wide", tuple(Step("prepare", f"{i:024x}", {"i": i}) for i in range(250)))
    ticks = iter(range(0, 10_000, 6))  # every look at the clock: 6 s later
    orch = Orchestrator(wide, store, backend, max_parallel=250, retries=0,
                        monotonic=lambda: float(next(ticks)), launch_budget_s=10.0)
    sleeps: list[float] = []
    monkeypatch.setattr(time, "sleep", sleeps.append)

    passes: list[RunStatus] = []

    def on_pass(status: RunStatus) -> None:
        passes.append(status)
        for key in backend.running():
            backend.finish(key)

    status = orch.run(store.uri, poll_s=0.5, on_pass=on_pass)

    # Pass 1 at 0 s: a batch; 6 s: another; 12 s: time is up, 50 left ready, no wait. Pass 2
    # launches them and waits its poll; pass 3 records their ends.
    assert passes[0].counts()[State.RUNNING] == 200 and passes[0].counts()[State.READY] == 50
    assert [p.launch_cut_short for p in passes] == [True, False, False] and sleeps == [0.5]
    assert [k for k, _ in backend.launches] == [s.key for s in wide.steps]
    assert status.succeeded


def test_a_full_run_succeeds_and_keeps_the_logs(plan: Plan, store: FileStore,
                                                backend: FakeBackend) -> None:
    events: list[Any] = []
    status = drive(orchestrator(plan, store, backend, events=events), backend, store)

    assert status.finished and status.succeeded and status.failures == {}
    assert sorted(backend.released) == sorted(s.key for s in plan.steps)
    assert backend.launches[0][0] == one(plan, "prepare", what="native sample").key
    assert backend.launches[-1] == (plan.summary.key, 1)
    for step in plan.steps:
        log = store.get_text(f"{step_dir(step.kind, step.key)}/_logs/attempt-1.log")
        assert f"last words of {step.key}" in log
    assert sum(what == "launched" for what, _, _ in events) == len(plan.steps)
    assert sum(what == "succeeded" for what, _, _ in events) == len(plan.steps)


def test_a_repeated_pass_launches_nothing_new(plan: Plan, store: FileStore,
                                              backend: FakeBackend) -> None:
    orch = orchestrator(plan, store, backend)
    orch.reconcile(store.uri)

    orch.reconcile(store.uri)
    orch.reconcile(store.uri)

    assert backend.launches == [(one(plan, "prepare", what="native sample").key, 1)]


# -- failures ------------------------------------------------------------------------------------
def test_bad_input_is_never_retried_and_blocks_downstream(plan: Plan, store: FileStore,
                                                          backend: FakeBackend) -> None:
    translate = one(plan, "translate")
    events: list[Any] = []
    orch = orchestrator(plan, store, backend, retries=5, events=events)

    status = drive(orch, backend, store, fail={translate.key: {"marker": False, "exit_code": 3}})

    assert backend.attempts_of(translate.key) == [1]
    assert status.finished and not status.succeeded
    assert status.states[translate.key] is State.FAILED
    for step in (one(plan, "train", condition="translated"),
                 one(plan, "evaluate", condition="translated"), plan.summary):
        assert status.states[step.key] is State.BLOCKED, step.ref
        assert backend.attempts_of(step.key) == [], step.ref
    for step in (one(plan, "prepare", what="native sample"), one(plan, "train", condition="native"),
                 one(plan, "evaluate", condition="native")):
        assert status.states[step.key] is State.DONE, step.ref
    assert list(status.failures) == [translate.key]
    assert "exit 3" in status.failures[translate.key]
    assert ("failed", translate.key, f"last words of {translate.key}") in events

    again = orch.reconcile(store.uri)  # further passes change nothing
    assert again.states == status.states
    assert backend.attempts_of(translate.key) == [1]


def test_retryable_failure_is_retried_until_the_budget_is_spent(
        plan: Plan, store: FileStore, backend: FakeBackend) -> None:
    prepare = one(plan, "prepare", what="native sample")
    orch = orchestrator(plan, store, backend, retries=1)

    status = drive(orch, backend, store, fail={prepare.key: {"marker": False, "exit_code": 1}})

    assert backend.attempts_of(prepare.key) == [1, 2]  # retries=1: one extra attempt
    assert status.states[prepare.key] is State.FAILED
    assert all(status.states[s.key] is State.BLOCKED for s in plan.steps if s is not prepare)
    assert status.failures[prepare.key].startswith("failed 2 times (last exit code 1")
    assert not status.succeeded


def test_a_retry_that_succeeds_completes_the_run(plan: Plan, store: FileStore,
                                                 backend: FakeBackend) -> None:
    prepare = one(plan, "prepare", what="native sample")
    orch = orchestrator(plan, store, backend, retries=1)
    orch.reconcile(store.uri)
    backend.finish(prepare.key, marker=False, exit_code=1)
    orch.reconcile(store.uri)  # records attempt 1, relaunches (backoff 0)

    status = drive(orch, backend, store)

    assert backend.attempts_of(prepare.key) == [1, 2]
    assert status.succeeded


def test_retry_waits_for_its_backoff(plan: Plan, store: FileStore, backend: FakeBackend) -> None:
    prepare = one(plan, "prepare", what="native sample")
    orch = orchestrator(plan, store, backend, retries=3, backoff=3600)
    orch.reconcile(store.uri)
    backend.finish(prepare.key, marker=False, exit_code=1)

    for _ in range(3):
        status = orch.reconcile(store.uri)

    assert backend.attempts_of(prepare.key) == [1]
    assert status.states[prepare.key] is State.WAITING
    assert not status.finished


@pytest.mark.parametrize("reason", ["Evicted", "DisruptionTarget"])
def test_eviction_does_not_spend_the_budget(plan: Plan, store: FileStore, backend: FakeBackend,
                                            reason: str) -> None:
    prepare = one(plan, "prepare", what="native sample")
    orch = orchestrator(plan, store, backend, retries=0)
    orch.reconcile(store.uri)
    for _ in range(3):  # evicted three times with no retry budget at all
        backend.finish(prepare.key, marker=False, exit_code=137, reason=reason)
        orch.reconcile(store.uri)

    assert backend.attempts_of(prepare.key) == [1, 2, 3, 4]
    assert [a.outcome for a in orch.attempts[prepare.key]] == ["retry_free"] * 3 + ["launched"]

    status = drive(orch, backend, store)
    assert status.succeeded


def test_a_step_that_finds_its_input_damaged_retries_free_after_the_input_is_redone(
        plan: Plan, store: FileStore, backend: FakeBackend) -> None:
    prepare = one(plan, "prepare", what="native sample")
    train = one(plan, "train", condition="native")
    orch = orchestrator(plan, store, backend, retries=0)
    orch.reconcile(store.uri)
    backend.finish(prepare.key)
    orch.reconcile(store.uri)  # train launched on prepare's output
    # What the step entrypoint does on an integrity mismatch: the producer's marker moves aside,
    # and the consumer exits 4.
    store.invalidate_marker("prepare", prepare.key, "data.jsonl is truncated")
    backend.finish(train.key, marker=False, exit_code=4)

    status = orch.reconcile(store.uri)

    assert [a.outcome for a in orch.attempts[train.key]] == ["retry_free"]
    assert backend.attempts_of(prepare.key) == [1, 2]  # redone first
    assert status.states[train.key] is State.WAITING
    assert drive(orch, backend, store).succeeded  # with no retry budget at all
    assert backend.attempts_of(train.key) == [1, 2]


def test_backoff_is_measured_on_the_injected_clock(plan: Plan, store: FileStore,
                                                   backend: FakeBackend) -> None:
    now = [1000.0]
    prepare = one(plan, "prepare", what="native sample")
    orch = orchestrator(plan, store, backend, retries=3, backoff=60, clock=lambda: now[0])
    orch.reconcile(store.uri)
    backend.finish(prepare.key, marker=False, exit_code=1)

    assert orch.reconcile(store.uri).states[prepare.key] is State.WAITING
    assert orch.attempts[prepare.key][0].finished_at == 1000.0
    now[0] += 59.0
    assert orch.reconcile(store.uri).states[prepare.key] is State.WAITING
    now[0] += 1.0
    assert orch.reconcile(store.uri).states[prepare.key] is State.RUNNING  # relaunched
    assert backend.attempts_of(prepare.key) == [1, 2]


def test_retry_budget_survives_a_new_orchestrator(plan: Plan, store: FileStore,
                                                  backend: FakeBackend) -> None:
    prepare = one(plan, "prepare", what="native sample")
    first = orchestrator(plan, store, backend, retries=1)
    first.reconcile(store.uri)
    backend.finish(prepare.key, marker=False, exit_code=1)
    first.reconcile(store.uri)  # records attempt 1 and relaunches as attempt 2
    assert backend.attempts_of(prepare.key) == [1, 2]

    second = orchestrator(plan, store, backend, retries=1)  # the controller restarted
    assert [(a.number, a.open) for a in second.attempts[prepare.key]] == [(1, False), (2, True)]
    backend.finish(prepare.key, marker=False, exit_code=1)
    status = second.reconcile(store.uri)

    assert backend.attempts_of(prepare.key) == [1, 2]  # budget spent across both controllers
    assert status.states[prepare.key] is State.FAILED
    assert status.finished


def test_a_new_orchestrator_does_not_relaunch_a_running_step(plan: Plan, store: FileStore,
                                                             backend: FakeBackend) -> None:
    prepare = one(plan, "prepare", what="native sample")
    backend.keep_running(prepare.key, prepare)

    status = orchestrator(plan, store, backend).reconcile(store.uri)

    assert backend.launches == []
    assert status.states[prepare.key] is State.RUNNING


def test_an_attempt_is_recorded_in_the_store_before_its_launch(plan: Plan, store: FileStore,
                                                               backend: FakeBackend) -> None:
    prepare = one(plan, "prepare", what="native sample")
    orchestrator(plan, store, backend).reconcile(store.uri)

    saved = store.get_json(f"runs/{plan.name}/attempts.json")[prepare.key]
    assert [(a["number"], a["outcome"], a["finished_at"]) for a in saved] == [(1, "launched", None)]


def test_a_step_lost_with_its_controller_is_relaunched_free_under_a_new_number(
        plan: Plan, store: FileStore, backend: FakeBackend) -> None:
    prepare = one(plan, "prepare", what="native sample")
    orchestrator(plan, store, backend, retries=0).reconcile(store.uri)
    assert backend.attempts_of(prepare.key) == [1]

    fresh = FakeBackend(store)  # the controller died, and its step with it
    orch = orchestrator(plan, store, fresh, retries=0)
    status = orch.reconcile(store.uri)

    assert fresh.attempts_of(prepare.key) == [2]  # a new number: attempt 1's log is kept
    assert [a.outcome for a in orch.attempts[prepare.key]] == ["lost", "launched"]
    assert status.states[prepare.key] is State.RUNNING  # retries=0, yet a loss costs nothing
    assert drive(orch, fresh, store).succeeded


def test_a_step_that_finished_while_no_controller_watched_is_not_rerun(
        plan: Plan, store: FileStore, backend: FakeBackend) -> None:
    prepare = one(plan, "prepare", what="native sample")
    orchestrator(plan, store, backend).reconcile(store.uri)
    backend.finish(prepare.key)  # marker written; the controller died before it saw the exit

    fresh = FakeBackend(store)
    orch = orchestrator(plan, store, fresh)
    status = orch.reconcile(store.uri)

    assert fresh.attempts_of(prepare.key) == [] and status.states[prepare.key] is State.DONE
    assert [a.outcome for a in orch.attempts[prepare.key]] == ["done"]


def test_a_store_with_every_marker_launches_nothing(plan: Plan, store: FileStore,
                                                    backend: FakeBackend) -> None:
    assert drive(orchestrator(plan, store, backend), backend, store).succeeded
    fresh = FakeBackend(store)

    status = orchestrator(plan, store, fresh).reconcile(store.uri)

    assert fresh.launches == []
    assert status.finished and status.succeeded
    assert set(status.states) == {s.key for s in plan.steps}


def test_forgive_failures_clears_terminal_failures(plan: Plan, store: FileStore,
                                                   backend: FakeBackend) -> None:
    translate = one(plan, "translate")
    orch = orchestrator(plan, store, backend)
    status = drive(orch, backend, store, fail={translate.key: {"marker": False, "exit_code": 3}})
    assert status.states[translate.key] is State.FAILED

    resubmit = orchestrator(plan, store, backend)
    assert resubmit.forgive_failures() == [translate.key]
    assert orchestrator(plan, store, backend).attempts.get(translate.key) is None  # saved
    status = drive(resubmit, backend, store)

    assert status.succeeded
    assert backend.attempts_of(translate.key) == [1, 1]  # a fresh budget: attempt 1 again
    assert resubmit.forgive_failures() == []


def test_forgive_failures_keeps_retryable_attempts(plan: Plan, store: FileStore,
                                                   backend: FakeBackend) -> None:
    prepare = one(plan, "prepare", what="native sample")
    orch = orchestrator(plan, store, backend, retries=2, backoff=3600)
    orch.reconcile(store.uri)
    backend.finish(prepare.key, marker=False, exit_code=1)
    orch.reconcile(store.uri)

    assert orch.forgive_failures() == []
    assert len(orch.attempts[prepare.key]) == 1


def test_an_end_an_earlier_controller_recorded_is_not_recorded_twice(
        plan: Plan, store: FileStore, backend: FakeBackend) -> None:
    prepare = one(plan, "prepare", what="native sample")
    orch = orchestrator(plan, store, backend, retries=2, backoff=3600)
    orch.reconcile(store.uri)
    backend.finish(prepare.key, marker=False, exit_code=1)
    orch.reconcile(store.uri)  # attempt 1 recorded; its Job is still listed (not yet collected)

    again = FakeBackend(store)  # a restarted controller lists the same finished Job
    again.keep_running(prepare.key, prepare)
    again.finish(prepare.key, marker=False, exit_code=1)
    again._seen[prepare.key] = Observation(prepare.key, "failed", 1, "", attempt=1)
    restarted = orchestrator(plan, store, again, retries=2, backoff=3600)
    restarted.reconcile(store.uri)

    assert [a.outcome for a in restarted.attempts[prepare.key]] == ["retry"]
    assert again.released == [prepare.key]


@pytest.mark.parametrize("seed", range(20))
def test_a_run_never_ends_with_an_open_attempt(plan: Plan, store: FileStore, backend: FakeBackend,
                                               seed: int) -> None:
    """Each step writes its marker a pass or more before its process is seen to exit (as a real
    one does); the run ends only after every attempt is closed, with a ✓ event and a log each."""
    import random

    rng = random.Random(seed)
    events: list[Any] = []
    orch = orchestrator(plan, store, backend, max_parallel=rng.randint(1, 4), events=events)
    lingering: dict[str, int] = {}
    for _ in range(200):
        status = orch.reconcile(store.uri)
        if status.finished:
            break
        for key in backend.running():
            if key not in lingering:
                backend.write_marker(key)
                lingering[key] = rng.randint(0, 2)  # passes the process lives on after its marker
            elif lingering[key] == 0:
                backend.finish(key)
            else:
                lingering[key] -= 1
    assert status.finished and status.succeeded
    assert backend.running() == []
    assert all(not a.open for tries in orch.attempts.values() for a in tries)
    assert sorted(k for what, k, _ in events if what == "succeeded") == sorted(s.key for s in plan.steps)
    for step in plan.steps:
        assert store.exists(f"{step_dir(step.kind, step.key)}/_logs/attempt-1.log"), step.ref


def test_a_pass_writes_the_attempts_once_however_many_steps_it_launches_or_ends(
        store: FileStore, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    """attempts.json is saved once per 100 launches, before them, and once a pass for the ends
    (before the ✓ lines): a save per step made a pass over a big plan O(steps²) in bytes written
    (bench/scale.py)."""
    wide = Plan("wide", tuple(Step("prepare", f"{i:024x}", {"i": i}) for i in range(250)))
    saves: list[int] = []
    put_text = store.put_text

    def counting(path: str, text: str) -> None:
        if path.endswith("attempts.json"):
            saves.append(len(backend.launches))  # how many launches had happened at the save
        put_text(path, text)

    monkeypatch.setattr(store, "put_text", counting)
    events: list[Any] = []
    orch = orchestrator(wide, store, backend, max_parallel=250, events=events)
    orch.reconcile(store.uri)
    assert saves == [0, 100, 200] and len(backend.launches) == 250  # each before its launches
    for key in backend.running():
        backend.finish(key)
    status = orch.reconcile(store.uri)
    assert status.succeeded and saves == [0, 100, 200, 250]
    assert sum(what == "succeeded" for what, _, _ in events) == 250
    assert store.get_json("runs/wide/attempts.json") == {
        s.key: [{"number": 1, "outcome": "done", "exit_code": 0, "reason": "",
                 "finished_at": orch.attempts[s.key][0].finished_at}] for s in wide.steps}
    orch.reconcile(store.uri)
    assert saves == [0, 100, 200, 250]  # a pass with nothing to record writes nothing


def test_a_cluster_backend_gets_its_launches_in_parallel_and_the_events_in_plan_order(
        store: FileStore, backend: FakeBackend) -> None:
    """Launch calls overlap up to the backend's concurrency (a serial Job create is one API
    round trip a step); the attempts are recorded before any launch, and the ✓-line events
    come from the controller's thread in plan order."""
    wide = Plan("wide", tuple(Step("prepare", f"{i:024x}", {"i": i}) for i in range(12)))
    backend.launch_concurrency = 4
    together = threading.Barrier(4, timeout=10)  # breaks unless 4 launches are in flight at once
    launch, threads = backend.launch, set()

    def slow_launch(step: Step, *, store_uri: str, attempt: int) -> None:
        assert store.get_json("runs/wide/attempts.json")[step.key] == [
            {"number": 1, "outcome": "launched", "exit_code": None, "reason": "", "finished_at": None}]
        together.wait()
        threads.add(threading.current_thread().name)
        with lock:
            launch(step, store_uri=store_uri, attempt=attempt)

    lock = threading.Lock()
    backend.launch = slow_launch  # type: ignore[method-assign]
    events: list[Any] = []
    orchestrator(wide, store, backend, max_parallel=12, events=events).reconcile(store.uri)
    assert sorted(k for k, _ in backend.launches) == [s.key for s in wide.steps]
    assert len(threads) == 4 and threading.current_thread().name not in threads
    assert [k for what, k, _ in events] == [s.key for s in wide.steps]


def test_a_failed_launch_ends_the_pass_with_its_error_and_the_next_pass_makes_up_for_it(
        store: FileStore, backend: FakeBackend) -> None:
    """Launches not yet started when one fails are not made (as a serial loop stops); their
    recorded attempts are closed as lost (no retry spent) and launched again on the next pass."""
    wide = Plan("wide", tuple(Step("prepare", f"{i:024x}", {"i": i}) for i in range(6)))
    backend.launch_concurrency = 3
    launch, lock = backend.launch, threading.Lock()

    def flaky(step: Step, *, store_uri: str, attempt: int) -> None:
        if step.key == wide.steps[1].key:
            raise BackendError("Job exists for another step")
        with lock:
            launch(step, store_uri=store_uri, attempt=attempt)

    backend.launch = flaky  # type: ignore[method-assign]
    orch = orchestrator(wide, store, backend, max_parallel=6)
    with pytest.raises(BackendError, match="another step"):
        orch.reconcile(store.uri)
    first = dict(backend.launches)
    assert wide.steps[1].key not in first and set(first) < {s.key for s in wide.steps}

    backend.launch = launch  # type: ignore[method-assign]
    orch.reconcile(store.uri)
    assert {k for k, _ in backend.launches} == {s.key for s in wide.steps}
    again = [(k, a) for k, a in backend.launches if k not in first]
    assert all(a == 2 for _, a in again)  # the unlaunched attempt 1 was closed as lost
    assert all(orch.attempts[k][0].outcome == Outcome.LOST for k, _ in again)
