"""A step runs against an S3 store (real MinIO) exactly as against a local folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nativejobs.orchestrate import Orchestrator
from nativejobs.plan import build_plan
from nativejobs.spec import parse_spec
from nativejobs.store import Store
from tests.e2e.conftest import tiny_spec

pytestmark = pytest.mark.integration


def test_prepare_step_writes_outputs_and_marker_to_s3(s3_store: Store, s3_env, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # The step subprocess finds the endpoint the standard AWS way, from the environment.
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_env.endpoint_url)
    plan = build_plan(parse_spec(tiny_spec(tmp_path / "unused")))
    native, english = [s for s in plan.steps if s.kind == "prepare"]
    for step in (native, english):
        s3_store.put_json(f"steps/prepare/{step.key}/_step.json", step.definition())
        run = subprocess.run([sys.executable, "-m", "nativejobs.steps", "run", "--store",
                              s3_store.uri, "--step", step.ref], capture_output=True, text=True,
                             timeout=120, env=dict(os.environ))
        assert run.returncode == 0, run.stdout + run.stderr
        assert s3_store.is_done("prepare", step.key)

    native_rows = s3_store.get_jsonl(f"steps/prepare/{native.key}/data.jsonl")
    english_rows = s3_store.get_jsonl(f"steps/prepare/{english.key}/data.jsonl")
    assert len(native_rows) == len(english_rows) == 2
    assert all(r["id"].startswith("qs_es_") for r in native_rows)
    assert all(r["id"].startswith("qs_en_") for r in english_rows)

class _NoBackend:
    """Launching anything would be a bug: everything is already done in the store."""

    launch_concurrency = 1

    def launch(self, step, *, store_uri, attempt):  # type: ignore[no-untyped-def]
        raise AssertionError(f"launched {step.ref}")

    def observe(self):  # type: ignore[no-untyped-def]
        return {}

    def release(self, key):  # type: ignore[no-untyped-def]
        raise AssertionError(key)

    def cancel_all(self) -> None:
        pass


def test_reconcile_on_s3_sees_markers_and_launches_nothing(s3_store: Store, tmp_path: Path) -> None:
    plan = build_plan(parse_spec(tiny_spec(tmp_path / "unused")))
    for step in plan.steps:
        s3_store.put_marker(step.kind, step.key, {"metrics": {}})
    orch = Orchestrator(plan, s3_store, _NoBackend(), max_parallel=2, retries=0)
    status = orch.reconcile(s3_store.uri)
    assert status.finished and status.succeeded
