"""The quickstart code path end to end: the CLI, real subprocess steps, the real SmolLM2 model.

One reduced study (es × native/translated/rtt × 3 benchmark kinds) is killed mid-run,
resubmitted, finished, and submitted once more; the tests below read what it left.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from nativejobs.store import FileStore
from tests.e2e.conftest import REPO, nativejobs, tiny_spec

pytestmark = pytest.mark.e2e

STEP_KINDS = ("prepare", "translate", "train", "evaluate", "summarize")


def _markers(store: FileStore) -> dict[str, dict[str, Any]]:
    return {p: store.get_json(p) for p in store.list("steps") if p.endswith("/_SUCCESS.json")}


def _wait_for_markers(store: FileStore, proc: subprocess.Popen[str], kind: str, n: int,
                      timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if sum(f"steps/{kind}/" in p for p in _markers(store)) >= n:
            return
        if proc.poll() is not None:
            raise AssertionError(f"submit ended early (exit {proc.returncode}): {proc.stdout}")
        time.sleep(0.5)
    raise AssertionError(f"no {n} {kind} markers within {timeout_s}s")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Submit, SIGKILL the controller once a train step is done, resubmit, then submit again."""
    root = tmp_path_factory.mktemp("e2e")
    store_dir = root / "store"
    spec = root / "tiny.yaml"
    spec.write_text(yaml.safe_dump(tiny_spec(store_dir), allow_unicode=True))
    store = FileStore(store_dir)

    proc = subprocess.Popen([sys.executable, "-m", "nativejobs", "submit", str(spec)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _wait_for_markers(store, proc, "train", 1)
    proc.send_signal(signal.SIGKILL)  # no chance to clean up: the hardest kind of stop
    proc.wait(timeout=30)
    before_resume = _markers(store)

    resumed = nativejobs("submit", str(spec))
    after_resume = _markers(store)
    again_started = time.monotonic()
    again = nativejobs("submit", str(spec))
    again_s = time.monotonic() - again_started
    return {"spec": spec, "store": store, "before": before_resume, "after": after_resume,
            "resumed": resumed, "again": again, "again_s": again_s, "after_again": _markers(store)}


def test_resume_finishes_without_redoing_finished_steps(finished_run: dict[str, Any]) -> None:
    resumed, before, after = finished_run["resumed"], finished_run["before"], finished_run["after"]
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert before, "the kill came before any step finished; the test proves nothing"
    assert len(after) == 11  # 1 prepare, 3 translate, 3 train, 3 evaluate, 1 summarize
    for path, marker in before.items():
        assert after[path] == marker, f"{path} was redone after the resume"
    assert f"{len(before)} of 11 steps already done" in " ".join(resumed.stdout.split())


def test_no_orphan_step_survives_the_killed_controller(finished_run: dict[str, Any]) -> None:
    store_dir = str(finished_run["store"].root)
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert not [line for line in ps.splitlines() if "nativejobs.steps" in line and store_dir in line]


def test_second_submit_does_no_work(finished_run: dict[str, Any]) -> None:
    again = finished_run["again"]
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already done; nothing to run" in " ".join(again.stdout.split())
    assert finished_run["after_again"] == finished_run["after"]  # no marker rewritten


def test_results_cover_every_condition_and_benchmark_kind(finished_run: dict[str, Any]) -> None:
    spec = finished_run["spec"]
    store = str(finished_run["store"].root)
    out = nativejobs("results", "tiny", "--store", store, "--format", "json")
    assert out.returncode == 0, out.stderr
    records = json.loads(out.stdout)
    required = {"model", "language", "condition", "arm", "benchmark", "metric", "score", "n"}
    assert all(required <= r.keys() for r in records)
    cells = {(r["language"], r["condition"], r["kind"]) for r in records}
    assert cells == {("es", c, k) for c in ("native", "translated", "rtt")
                     for k in ("extractive_qa", "math_cot", "multiple_choice")}
    assert all(0.0 <= r["score"] <= 1.0 and r["n"] > 0 for r in records)
    md = nativejobs("results", "tiny", "--store", store, "--format", "md")
    assert "ΔS" in md.stdout and "translated" in md.stdout
    assert spec.exists()


def test_steps_store_their_artifacts(finished_run: dict[str, Any]) -> None:
    store: FileStore = finished_run["store"]
    paths = store.list("steps")
    for kind, artifact in [("prepare", "native.jsonl"), ("prepare", "english.jsonl"),
                           ("translate", "translated.jsonl"), ("train", "adapter/adapter_config.json"),
                           ("train", "metrics.json"), ("evaluate", "predictions/xquad.jsonl"),
                           ("evaluate", "records.json"), ("summarize", "results.md")]:
        assert any(p.startswith(f"steps/{kind}/") and p.endswith(artifact) for p in paths), artifact
    train_metrics = [store.get_json(p) for p in paths if p.endswith("train/") or
                     (p.startswith("steps/train/") and p.endswith("/metrics.json"))]
    assert all(m["recipe"]["training"]["lora"]["target_modules"] == ["q_proj", "k_proj", "v_proj"]
               for m in train_metrics)
    logs = [p for p in paths if "/_logs/attempt-" in p]
    assert len(logs) >= 11  # every finished step kept its log


def test_translation_cache_means_no_second_engine_call(finished_run: dict[str, Any],
                                                       tmp_path: Path) -> None:
    """Re-running a translate step from scratch pays for no segment twice."""
    store: FileStore = finished_run["store"]
    marker = next(p for p in _markers(store) if p.startswith("steps/translate/"))
    step_prefix = marker.rsplit("/", 1)[0]
    store.delete(marker)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    ref = step_prefix.removeprefix("steps/")
    run = subprocess.run([sys.executable, "-m", "nativejobs.steps", "run", "--store", store.uri,
                          "--step", ref], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert store.get_json(f"{step_prefix}/_SUCCESS.json")["metrics"]["engine_calls"] == 0


def test_bad_input_fails_the_step_once_and_blocks_downstream(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "no instruction field"}\n')
    doc = tiny_spec(tmp_path / "store", name="bad")
    doc["data"]["native"]["path"] = str(bad)
    spec = tmp_path / "bad.yaml"
    spec.write_text(yaml.safe_dump(doc))
    run = nativejobs("submit", str(spec))
    assert run.returncode == 1
    assert "bad input (exit 3)" in " ".join(run.stderr.split())
    attempts = json.loads((tmp_path / "store/runs/bad/attempts.json").read_text())
    assert [a["outcome"] for tries in attempts.values() for a in tries] == ["bad_input"]
    log = nativejobs("logs", "bad", next(iter(attempts)), "--store", str(tmp_path / "store"))
    assert "need Alpaca" in log.stdout
