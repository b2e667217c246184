"""`status` and `cancel` read and write only the store: they work from anywhere with access to it.

The run state here is written as a controller writes it (run record, attempts, the pending
reasons it publishes in runs/<name>/live.json), so no model and no cluster is needed.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from nativejobs.plan import build_plan
from nativejobs.spec import load_spec
from nativejobs.store import FileStore
from tests.e2e.conftest import EXAMPLES, nativejobs

pytestmark = pytest.mark.e2e


@pytest.fixture
def run_store(tmp_path: Path) -> tuple[FileStore, list[str]]:
    spec = load_spec(EXAMPLES / "quickstart.yaml")
    plan = build_plan(spec)
    store = FileStore(tmp_path / "store")
    store.put_json("runs/quickstart/run.json", {
        "name": "quickstart", "submitted_at": time.time(), "spec": spec.model_dump(mode="json"),
        "summary": plan.summary.ref,
        "steps": [{"kind": s.kind, "key": s.key, "labels": s.labels, "inputs": [i.key for i in s.inputs]}
                  for s in plan.steps]})
    first, second = plan.steps[0].key, plan.steps[1].key
    store.put_json("runs/quickstart/attempts.json", {
        first: [{"number": 1, "outcome": "launched", "exit_code": None, "reason": "", "finished_at": None}],
        second: [{"number": 1, "outcome": "retry", "exit_code": 1, "reason": "", "finished_at": 1.0},
                 {"number": 2, "outcome": "launched", "exit_code": None, "reason": "", "finished_at": None}]})
    store.put_json("runs/quickstart/live.json", {"updated_at": time.time(), "pending": {
        first: "unschedulable: 0/2 nodes are available: 2 Insufficient nvidia.com/gpu."}})
    return store, [first, second]


def test_status_says_why_a_step_waits(run_store: tuple[FileStore, list[str]]) -> None:
    store, (first, second) = run_store
    out = nativejobs("status", "quickstart", "--store", str(store.root), env={"COLUMNS": "250"})
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert "Insufficient nvidia.com/gpu" in text
    row = next(line for line in out.stdout.splitlines() if first[:12] in line)
    assert "unschedulable" in row
    row = next(line for line in out.stdout.splitlines() if second[:12] in line)
    assert "launched" in row and " 2 " in row  # its second attempt is the running one


def test_cancel_is_a_request_in_the_store_and_a_resubmit_clears_it(
        run_store: tuple[FileStore, list[str]]) -> None:
    store, _ = run_store
    out = nativejobs("cancel", "quickstart", "--store", str(store.root))
    assert out.returncode == 0, out.stderr
    assert store.exists("runs/quickstart/cancel.json")
    status = nativejobs("status", "quickstart", "--store", str(store.root))
    assert "cancel requested" in " ".join(status.stdout.split())
    typo = nativejobs("cancel", "quickstrat", "--store", str(store.root))
    assert typo.returncode == 2 and "no run named 'quickstrat'" in typo.stderr


def test_cancelling_a_finished_run_requests_nothing(run_store: tuple[FileStore, list[str]]) -> None:
    store, _ = run_store
    for s in store.get_json("runs/quickstart/run.json")["steps"]:
        store.put_marker(s["kind"], s["key"], {})

    out = nativejobs("cancel", "quickstart", "--store", str(store.root))

    assert out.returncode == 0, out.stderr
    assert "every step is done; nothing to cancel" in " ".join(out.stdout.split())
    assert not store.exists("runs/quickstart/cancel.json")


def test_status_sums_up_per_kind_and_lists_only_what_is_not_done(
        run_store: tuple[FileStore, list[str]]) -> None:
    store, (first, _) = run_store
    run = store.get_json("runs/quickstart/run.json")["steps"]
    roots = [s for s in run if not s["inputs"] and s["key"] != first]
    for s in roots:
        store.put_marker(s["kind"], s["key"], {"wall_s": 3.0})
    wide = {"COLUMNS": "250"}

    out = nativejobs("status", "quickstart", "--store", str(store.root), env=wide)

    assert out.returncode == 0, out.stderr
    header = next(line for line in out.stdout.splitlines() if "steps" in line and "done" in line)
    columns = [c.strip() for c in header.strip("┃ \n").split("┃")]
    assert columns == ["step", "steps", "done", "launched", "not run", "time/step"]
    total = next(line for line in out.stdout.splitlines() if line.startswith("│ total"))
    assert [c.strip() for c in total.split("│")[1:-1]] == \
        ["total", str(len(run)), str(len(roots)), "2", str(len(run) - len(roots) - 2), ""]
    prepare = next(line for line in out.stdout.splitlines() if line.startswith("│ prepare"))
    assert prepare.split("│")[-2].strip() == "3s"
    left = sum(s["kind"] == "prepare" for s in run) - len(roots)
    assert f"step time left at the pace so far: about {3 * left}s (prepare); not timed yet: translate, " \
        "train, evaluate, summarize" in " ".join(out.stdout.split())
    rows = [line for line in out.stdout.splitlines() if any(s["key"][:12] in line for s in run)]
    assert len(rows) == len(run) - len(roots)  # a row per step not done
    assert not any(s["key"][:12] in out.stdout for s in roots)

    everything = nativejobs("status", "quickstart", "--store", str(store.root), "--all", env=wide)
    assert all(s["key"][:12] in everything.stdout for s in run)
    trains = nativejobs("status", "quickstart", "--store", str(store.root), "--kind", "train", env=wide)
    listed = {s["kind"] for s in run if s["key"][:12] in trains.stdout}
    assert listed == {"train"}
    typo = nativejobs("status", "quickstart", "--store", str(store.root), "--kind", "trian")
    assert typo.returncode == 2 and "--kind: got 'trian'; use one of prepare" in typo.stderr
