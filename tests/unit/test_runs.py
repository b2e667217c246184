"""Run state (``nativejobs.runs``) and the drive loop (``nativejobs.controller``).

``done_keys`` judges a marker as the orchestrator does: a step built from outputs of an input
that was redone since is not done, so ``status`` and ``plan`` never count it.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from nativejobs import cli
from nativejobs.controller import Controller, RunCancelled
from nativejobs.errors import StoreError, StoreNotFoundError
from nativejobs.orchestrate import Observation
from nativejobs.plan import Plan, Step, StepInput, build_plan
from nativejobs.runs import Attempt, RunRecord, RunState, done_digests, done_keys, step_records
from nativejobs.spec import load_spec
from nativejobs.store import FileStore, Store, stale_inputs
from tests.unit.builders import make_plan, make_spec, steps_where


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FileStore:
    monkeypatch.setattr(os, "fsync", lambda fd: None)  # speed only; durability is test_store's
    return FileStore(tmp_path / "store")


def one(plan: Plan, kind: str, **labels: str) -> Step:
    (step,) = steps_where(plan, kind, **labels)
    return step


def finish(store: Store, step: Step, content: str = "out") -> None:
    """A step's outputs and its marker, built from its inputs' current markers."""
    store.put_text(f"steps/{step.kind}/{step.key}/out.txt", content)
    inputs = {i.key: (store.get_marker(i.kind, i.key) or {}).get("digest") for i in step.inputs}
    store.put_marker(step.kind, step.key, {}, files=store.step_manifest(step.kind, step.key),
                     inputs=inputs)


def make_stale(store: Store, plan: Plan) -> tuple[Step, Step]:
    """prepare and its train done, then prepare redone with other content: train is stale."""
    prepare, train = one(plan, "prepare", what="native sample"), one(plan, "train", condition="native")
    finish(store, prepare)
    finish(store, train)
    finish(store, prepare, "redone with other content")
    return prepare, train


# -- done_keys -------------------------------------------------------------------------------------
def test_a_stale_marker_is_not_done_and_stays_where_it_is(store: FileStore) -> None:
    plan = make_plan()
    prepare, train = make_stale(store, plan)

    done = done_keys(store, step_records(plan))

    assert done == {prepare.key}
    assert store.is_done("train", train.key)  # a read-only view: nothing is moved aside


def test_a_step_whose_input_is_not_done_is_not_done(store: FileStore) -> None:
    plan = make_plan()
    prepare, train = one(plan, "prepare", what="native sample"), one(plan, "train", condition="native")
    finish(store, prepare)
    finish(store, train)
    store.invalidate_marker("prepare", prepare.key, "damaged")

    assert done_keys(store, step_records(plan)) == set()


class CountingStore(FileStore):
    """A file store that counts marker reads and how many were in flight at once."""

    def __init__(self, root: Path, *, concurrency: int = 1) -> None:
        super().__init__(root)
        self.concurrency = concurrency
        self.reads: list[str] = []
        self.in_flight = self.most_in_flight = 0
        self._lock = threading.Lock()
        self._overlap = threading.Barrier(concurrency, timeout=5)

    def get_marker(self, kind: str, key: str) -> dict[str, Any] | None:
        with self._lock:
            self.reads.append(key)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            first_reads = len(self.reads) <= self.concurrency
        if self.concurrency > 1 and first_reads:
            self._overlap.wait()  # returns once the first concurrency reads are in flight together
        try:
            return super().get_marker(kind, key)
        finally:
            with self._lock:
                self.in_flight -= 1


def fan_plan(width: int) -> Plan:
    """``width`` independent prepares, each feeding one translate."""
    roots = [Step("prepare", f"p{i}", {}) for i in range(width)]
    children = [Step("translate", f"t{i}", {}, inputs=(StepInput("data", "prepare", r.key, "data.jsonl"),))
                for i, r in enumerate(roots)]
    return Plan("fan", (*roots, *children))


def test_markers_are_read_a_dependency_level_at_a_time_many_at_once(store: FileStore) -> None:
    plan = fan_plan(4)
    roots, children = plan.steps[:4], plan.steps[4:]
    for step in [*roots, children[0]]:
        finish(store, step)
    store.invalidate_marker("prepare", roots[1].key, "damaged")
    counting = CountingStore(store.root, concurrency=4)

    done = done_keys(counting, step_records(plan))

    assert done == {roots[0].key, roots[2].key, roots[3].key, children[0].key}
    assert counting.most_in_flight == 4  # the barrier let no root read through alone
    # The roots together, then only the children whose input is done (not t1's).
    assert sorted(counting.reads[:4]) == sorted(s.key for s in roots)
    assert sorted(counting.reads[4:]) == sorted(children[i].key for i in (0, 2, 3))


def test_done_digests_reads_each_marker_once_and_matches_one_by_one(store: FileStore) -> None:
    plan = make_plan()
    make_stale(store, plan)
    for step in steps_where(plan, "prepare"):
        if not store.is_done(step.kind, step.key):
            finish(store, step)
    counting = CountingStore(store.root)

    digests = done_digests(counting, step_records(plan))

    one_by_one = {s.key: m.get("digest") for s in plan.steps
                  if (m := store.get_marker(s.kind, s.key)) is not None
                  and all(i.key in digests for i in s.inputs)
                  and not stale_inputs(m, {i.key: digests[i.key] for i in s.inputs})}
    assert digests == one_by_one and len(counting.reads) == len(set(counting.reads))


# -- RunState --------------------------------------------------------------------------------------
def test_run_records_round_trip_through_the_store(store: FileStore) -> None:
    plan = make_plan()
    state = RunState(store, plan.name)
    state.request_cancel(now=1.0)
    record = RunRecord.of({"conditions": []}, plan, now=12.5)

    state.put_record(record)  # a new submit clears an earlier cancel
    state.put_attempts({"k": [Attempt(1, "retry", 1, "", 3.0), Attempt(2, "launched", None, "", None)]})

    assert state.record() == record and not state.is_cancel_requested()
    assert [a.open for a in state.attempts()["k"]] == [False, True]
    assert store.get_json(f"runs/{plan.name}/run.json")["steps"][0]["inputs"] == []


def test_attempts_changed_in_place_or_dropped_are_written_as_they_are_now(store: FileStore) -> None:
    state = RunState(store, "r")
    attempts = {"a": [Attempt(1, "launched", None, "", None)], "b": [Attempt(1, "launched", None, "", None)]}
    state.put_attempts(attempts)
    attempts["a"][0].outcome, attempts["a"][0].exit_code, attempts["a"][0].finished_at = "retry", 1, 5.0
    attempts["a"].append(Attempt(2, "launched", None, "", None))
    del attempts["b"]

    state.put_attempts(attempts)

    assert RunState(store, "r").attempts() == {"a": [Attempt(1, "retry", 1, "", 5.0),
                                                    Attempt(2, "launched", None, "", None)]}


def test_an_unknown_run_and_a_damaged_record_are_named(store: FileStore) -> None:
    with pytest.raises(StoreNotFoundError, match="no run named 'nope'"):
        RunState(store, "nope").record()
    store.put_text("runs/bad/attempts.json", '{"k": [{"number": 1}]}')
    with pytest.raises(StoreError, match=r"run 'bad' .* damaged \(not a run record"):
        RunState(store, "bad").attempts()


# -- the controller --------------------------------------------------------------------------------
class StuckBackend:
    """Launched steps stay pending, with a reason, until cancelled."""

    outlives_controller = True
    launch_concurrency = 1

    def __init__(self) -> None:
        self.pending: dict[str, str] = {}
        self.cancelled = 0

    def launch(self, step: Step, *, store_uri: str, attempt: int) -> None:
        self.pending[step.key] = "unschedulable: 0/3 nodes have a GPU"

    def observe(self) -> dict[str, Observation]:
        return {k: Observation(k, "running") for k in self.pending}

    def release(self, key: str) -> str | None:
        return None

    def cancel_all(self) -> None:
        self.cancelled += 1
        self.pending.clear()


def test_the_controller_publishes_why_steps_wait_and_stops_on_a_cancel(store: FileStore) -> None:
    plan, backend, now = make_plan(), StuckBackend(), [100.0]
    controller = Controller(plan, store, backend, max_parallel=4, retries=0, live_every_s=5.0,
                            clock=lambda: 42.0, monotonic=lambda: now[0])
    state = RunState(store, plan.name)
    passes: list[int] = []

    def on_pass(_: Any) -> None:
        passes.append(1)
        if len(passes) == 2:
            state.request_cancel(now=1.0)  # seen only once every_s has passed
        now[0] += 2.0

    with pytest.raises(RunCancelled, match="cancelled"):
        controller.run(poll_s=0.0, on_pass=on_pass)

    assert len(passes) == 4  # checked on passes 1 and 4 (t=100, t=106)
    assert backend.cancelled == 1
    live = state.live()
    assert live.updated_at == 42.0 and set(live.pending.values()) == {"unschedulable: 0/3 nodes have a GPU"}


def test_todo_leaves_out_done_steps_but_not_stale_ones(store: FileStore) -> None:
    plan = make_plan()
    prepare, train = make_stale(store, plan)
    controller = Controller(plan, store, StuckBackend(), max_parallel=1, retries=0)

    todo = {s.key for s in controller.todo()}

    assert prepare.key not in todo and train.key in todo


# -- the CLI's counts --------------------------------------------------------------------------------
def test_status_and_plan_do_not_count_a_stale_marker_as_done(capsys: Any, tmp_path: Path) -> None:
    doc = make_spec(store=str(tmp_path / "store"))
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(doc), encoding="utf-8")
    plan = build_plan(load_spec(spec))  # keys as the CLI computes them from this file
    store = FileStore(tmp_path / "store")
    RunState(store, plan.name).put_record(RunRecord.of(doc, plan, now=0.0))
    prepare, train = make_stale(store, plan)

    with pytest.raises(SystemExit):
        cli.main(["status", plan.name, "--store", str(tmp_path / "store"), "--all"])
    rows = {line.split("│")[2].strip(): line for line in capsys.readouterr().out.splitlines()
            if line.count("│") > 4}
    assert "done" in rows[prepare.key[:12]] and "not run" in rows[train.key[:12]]

    with pytest.raises(SystemExit):
        cli.main(["plan", str(spec), "--steps"])
    table = capsys.readouterr().out
    totals = next(line for line in table.splitlines() if "total" in line)
    assert [c.strip() for c in totals.split("│")[1:-1]][:3] == ["total", str(len(plan.steps)), "1"]


def test_the_first_pass_after_todo_reads_no_marker_of_a_done_step(tmp_path: Path,
                                                                 store: FileStore) -> None:
    plan = make_plan()
    prepares = steps_where(plan, "prepare")
    for step in prepares:
        finish(store, step)
    counting = CountingStore(store.root)
    controller = Controller(plan, counting, StuckBackend(), max_parallel=100, retries=0)

    todo = controller.todo()
    counting.reads.clear()
    status = controller.orchestrator.reconcile(counting.uri)

    assert {s.key for s in todo} == {s.key for s in plan.steps} - {s.key for s in prepares}
    assert all(status.states[s.key] == "done" for s in prepares)
    assert not set(counting.reads) & {s.key for s in prepares}
