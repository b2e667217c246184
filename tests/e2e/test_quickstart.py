"""The quickstart code path end to end: the CLI, real subprocess steps, the real SmolLM2 model.

One reduced study (es × native/translated/rtt × 3 benchmark kinds) is killed mid-run,
resubmitted, finished, and submitted once more; the tests below read what it left.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from nativejobs.backends.local import log_dir_for
from nativejobs.engines.models import cache_dir
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
    assert len(after) == 12  # 2 prepare, 3 translate, 3 train, 3 evaluate, 1 summarize
    for path, marker in before.items():
        assert after[path] == marker, f"{path} was redone after the resume"
    assert f"{len(before)} of 12 steps already done" in " ".join(resumed.stdout.split())


def _step_pids(store: FileStore) -> list[int]:
    """Pids of every step process this store's steps ever had (each logs 'start ... (pid N)')."""
    keys = [p.split("/")[2] for p in store.list("steps") if p.endswith("/_step.json")]
    folder = log_dir_for(cache_dir(), store.uri)
    logs = [f for k in keys for f in folder.glob(f"*-{k}-attempt-*.log")]
    return [int(m) for f in logs for m in re.findall(r"\(pid (\d+)\)", f.read_text(errors="replace"))]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_no_orphan_step_survives_the_killed_controller(finished_run: dict[str, Any]) -> None:
    pids = _step_pids(finished_run["store"])
    assert len(pids) >= 12  # one per step at least, so the check below has something to check
    assert [p for p in pids if _alive(p)] == []


def test_ctrl_c_stops_the_steps_and_a_resubmit_continues(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "store")
    doc = tiny_spec(tmp_path / "store", name="interrupted")
    doc["conditions"] = [c for c in doc["conditions"] if c["name"] == "native"]
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(doc))
    proc = subprocess.Popen([sys.executable, "-m", "nativejobs", "submit", str(spec)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not any(p.startswith("steps/train/") and p.endswith("/_step.json")
                  for p in store.list("steps")):
        assert time.monotonic() < deadline and proc.poll() is None, "train never launched"
        time.sleep(0.2)
    time.sleep(0.5)  # the train step is starting: interrupt it mid-way
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)

    assert proc.returncode == 130
    assert "interrupted; finished steps are kept" in " ".join(stderr.split())
    assert "Traceback" not in stderr
    assert [p for p in _step_pids(store) if _alive(p)] == []
    assert not any(p.startswith("steps/train/") and p.endswith("_SUCCESS.json")
                   for p in store.list("steps"))
    resumed = nativejobs("submit", str(spec))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "1 of 4 steps already done" in " ".join(resumed.stdout.split())


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
                     for k in ("xquad", "mgsm", "okapi_mmlu")}
    assert all(0.0 <= r["score"] <= 1.0 and r["n"] > 0 for r in records)
    md = nativejobs("results", "tiny", "--store", store, "--format", "md")
    assert "ΔS" in md.stdout and "translated" in md.stdout
    assert spec.exists()


def test_steps_store_their_artifacts(finished_run: dict[str, Any]) -> None:
    store: FileStore = finished_run["store"]
    paths = store.list("steps")
    for kind, artifact in [("prepare", "data.jsonl"), ("prepare", "stats.json"),
                           ("translate", "translated.jsonl"), ("train", "adapter/adapter_config.json"),
                           ("train", "metrics.json"), ("evaluate", "predictions/xquad.jsonl"),
                           ("evaluate", "records.json"), ("summarize", "results.md")]:
        assert any(p.startswith(f"steps/{kind}/") and p.endswith(artifact) for p in paths), artifact
    train_metrics = [store.get_json(p) for p in paths
                     if p.startswith("steps/train/") and p.endswith("/metrics.json")]
    qkv = ["q_proj", "k_proj", "v_proj"]
    assert len(train_metrics) == 3 and all(m["recipe"]["training"]["lora"]["target_modules"] == qkv
               for m in train_metrics)
    # Every step's log is in the store, or (if the controller died before it saw the step end)
    # still in the local log folder, where `nativejobs logs` finds it too.
    for marker in (p for p in paths if p.endswith("/_SUCCESS.json")):
        _, kind, key, _ = marker.split("/")
        stored = any(p.startswith(f"steps/{kind}/{key}/_logs/attempt-") for p in paths)
        local = log_dir_for(cache_dir(), store.uri).glob(f"{kind}-{key}-attempt-*.log")
        assert stored or list(local), marker
        out = nativejobs("logs", "tiny", key[:10], "--store", str(store.root))
        assert out.returncode == 0 and "done in" in out.stdout, marker


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
