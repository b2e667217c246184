"""``nativejobs gc``: step folders no recorded run refers to are listed, and deleted with --yes.

Run state, caches and inputs stay; nothing is deleted while a controller drives a run of the
store, nor when a run's record is damaged (what it refers to is then unknown).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import pytest

from nativejobs import cli
from nativejobs.gc import StepFolder, collect, find_garbage, remove, step_folders
from nativejobs.plan import Plan
from nativejobs.runs import ControllerLease, RunRecord, RunState
from nativejobs.store import FileStore, Store
from tests.unit.builders import arm, make_plan, make_spec


def test_step_folders_group_files_by_step_and_ignore_the_rest() -> None:
    sizes = {"steps/train/k1/adapter.bin": 100, "steps/train/k1/_SUCCESS.json": 5,
             "steps/evaluate/k2/results.json": 7, "steps/train/stray.txt": 1, "runs/x/run.json": 9,
             "cache/translate/a/b.json": 3}

    assert step_folders(sizes) == [StepFolder("evaluate", "k2", 1, 7), StepFolder("train", "k1", 2, 105)]


def test_find_garbage_keeps_what_any_run_refers_to() -> None:
    folders = [StepFolder("train", k, 1, 1) for k in ("a", "b", "c")]

    found = find_garbage(["r1", "r2"], folders, {"a", "c"})

    assert [f.key for f in found.kept] == ["a", "c"] and [f.key for f in found.garbage] == ["b"]


def record(store: Store, plan: Plan, name: str) -> None:
    RunState(store, name).put_record(RunRecord.of(make_spec(), plan, now=0.0))


def outputs(store: Store, plan: Plan) -> None:
    for step in plan.steps:
        store.put_text(f"steps/{step.kind}/{step.key}/out.txt", "x" * 10)
        store.put_marker(step.kind, step.key, {})


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    """Two runs sharing their prepare steps, and the outputs of a plan no run records any more."""
    store = FileStore(tmp_path / "store")
    current, other, edited_away = (make_plan(arms=[arm("a1", lr)]) for lr in (1e-4, 2e-4, 9e-4))
    for plan in (current, other, edited_away):
        outputs(store, plan)
    record(store, current, "study")
    record(store, other, "other")
    store.put_text("cache/translate/abc/es-en.json", "{}")
    store.put_text("inputs/host/abc/data.jsonl", "{}\n")
    return store


def gone_keys(store: Store) -> set[str]:
    referenced = {s.key for name in ("study", "other") for s in RunState(store, name).record().steps}
    return {f.key for f in step_folders(store.sizes("steps"))} - referenced


def test_gc_lists_then_deletes_only_what_no_run_refers_to(store: FileStore, capsys: Any) -> None:
    found = collect(store)
    assert found.runs == ["other", "study"]
    assert found.garbage and {f.kind for f in found.garbage} == {"train", "evaluate", "summarize"}
    before = store.list("")

    with pytest.raises(SystemExit) as exit_:
        cli.main(["gc", "--store", str(store.root)])
    assert exit_.value.code == 0 and store.list("") == before  # a listing deletes nothing
    said = " ".join(capsys.readouterr().out.split())
    assert f"{len(found.garbage)} step folders" in said and "with --yes, gc deletes them" in said

    with pytest.raises(SystemExit) as exit_:
        cli.main(["gc", "--store", str(store.root), "--yes"])
    assert exit_.value.code == 0
    assert f"deleted {len(found.garbage)} step folders" in " ".join(capsys.readouterr().out.split())
    assert gone_keys(store) == set()
    assert {f.key for f in found.kept} == {f.key for f in step_folders(store.sizes("steps"))}
    assert store.exists("cache/translate/abc/es-en.json") and store.exists("inputs/host/abc/data.jsonl")
    assert store.exists("runs/study/run.json") and store.exists("runs/other/run.json")


def test_nothing_is_deleted_while_a_run_is_driven(store: FileStore, capsys: Any) -> None:
    host = socket.gethostname()
    RunState(store, "other").put_lease(ControllerLease(f"{host}:{os.getppid()}", host, os.getppid(), 9e18))
    before = store.list("")

    with pytest.raises(SystemExit) as exit_:
        cli.main(["gc", "--store", str(store.root), "--yes"])

    assert exit_.value.code == 1 and store.list("") == before
    assert "gc deletes nothing while a run is driven: other: another controller" in \
        " ".join(capsys.readouterr().err.split())


def test_a_run_recorded_since_the_listing_keeps_its_steps(store: FileStore) -> None:
    found = collect(store)
    revived = make_plan(arms=[arm("a1", 9e-4)])  # the spec edited back
    record(store, revived, "revived")

    gone = remove(store, found)

    assert gone == []
    assert {s.key for s in revived.steps} <= {f.key for f in step_folders(store.sizes("steps"))}


def test_a_damaged_run_record_stops_gc(store: FileStore, capsys: Any) -> None:
    store.put_text("runs/other/run.json", "{not json")
    before = store.list("")

    with pytest.raises(SystemExit) as exit_:
        cli.main(["gc", "--store", str(store.root), "--yes"])

    assert exit_.value.code == 1 and store.list("") == before
    assert "run 'other'" in capsys.readouterr().err


def test_a_forgotten_run_takes_its_state_and_the_steps_only_it_used(store: FileStore, capsys: Any) -> None:
    other = {s.key for s in RunState(store, "other").record().steps}
    study = {s.key for s in RunState(store, "study").record().steps}

    with pytest.raises(SystemExit) as exit_:
        cli.main(["gc", "--store", str(store.root), "--forget", "other"])
    assert exit_.value.code == 0 and store.exists("runs/other/run.json")  # listed only

    with pytest.raises(SystemExit) as exit_:
        cli.main(["gc", "--store", str(store.root), "--forget", "other", "--yes"])

    assert exit_.value.code == 0
    assert "forgot other; deleted" in " ".join(capsys.readouterr().out.split())
    assert store.list("runs/other") == [] and store.exists("runs/study/run.json")
    left = {f.key for f in step_folders(store.sizes("steps"))}
    assert left == study and other & study  # what both used stays with the study


def test_forgetting_an_unknown_run_is_a_usage_error(store: FileStore, capsys: Any) -> None:
    before = store.list("")

    with pytest.raises(SystemExit) as exit_:
        cli.main(["gc", "--store", str(store.root), "--forget", "nope", "--yes"])

    assert exit_.value.code == 2 and store.list("") == before
    assert "no run named 'nope'" in capsys.readouterr().err
