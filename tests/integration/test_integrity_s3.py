"""Integrity (issue 11, item 4) on a real MinIO: truncated and altered artifacts are found by
their SHA-256, their step is made not done and recomputed, and a step redone with other content
invalidates its dependents, exactly as on a local folder (tests/unit/test_integrity.py).

The whole-run cases reuse the unit module's toy steps (the real orchestrator and entrypoint,
every step kind replaced by a step that reads each input and writes what its consumers read);
the last case runs the real prepare step in a subprocess, as a Job would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nativejobs.exit_codes import EXIT_INPUT_DAMAGED
from nativejobs.plan import Plan, build_plan
from nativejobs.spec import parse_spec
from nativejobs.store import MARKER, ArtifactDamagedError, Store, file_digest, step_dir
from tests.e2e.conftest import tiny_spec
from tests.unit.builders import make_plan
from tests.unit.test_integrity import (
    Toy,
    alter,
    corrupt_and_reread,
    damage,
    done_step,
    install_toy,
    moved_aside,
    one,
    submit,
    truncate,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def plan() -> Plan:
    return make_plan()


@pytest.fixture
def toy(plan: Plan, monkeypatch: pytest.MonkeyPatch) -> Toy:
    return install_toy(plan, monkeypatch)


@pytest.fixture
def store(s3_store: Store, s3_env: Any, monkeypatch: pytest.MonkeyPatch) -> Store:
    """The S3 store; the entrypoint opens it by URI, so the endpoint comes from the environment."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_env.endpoint_url)
    return s3_store


def test_the_streaming_digest_of_an_object_is_its_content_digest(store: Store) -> None:
    data = os.urandom(5 * (1 << 20) + 3)  # several 1 MiB chunks of the response body
    store.put_bytes("x/big.bin", data)
    assert store.digest("x/big.bin") == file_digest(data)


@pytest.mark.parametrize(("how", "says"), [
    pytest.param(truncate, "has 6 bytes; its marker vouches for 12", id="truncated"),
    pytest.param(alter, "same size: altered", id="altered"),
    pytest.param(None, "is missing", id="deleted"),
])
def test_a_damaged_object_makes_its_step_not_done(store: Store, how: Any, says: str) -> None:
    done_step(store, {"rows.jsonl": b"hello world\n"})
    damage(store, f"{step_dir('prepare', 'p' * 24)}/rows.jsonl", how)

    with pytest.raises(ArtifactDamagedError, match=says):
        store.read_vouched("prepare", "p" * 24, "rows.jsonl")

    assert not store.is_done("prepare", "p" * 24)
    (aside,) = moved_aside(store, "prepare", "p" * 24)
    assert says in aside["reason"]


@pytest.mark.parametrize("how", [pytest.param(truncate, id="truncated"),
                                 pytest.param(alter, id="altered")])
def test_a_damaged_adapter_on_s3_redoes_train_then_evaluates(plan: Plan, store: Store, toy: Toy,
                                                            how: Any) -> None:
    assert submit(plan, store)[1]
    train = one(plan, "train")
    intact = store.get_bytes(f"{step_dir('train', train.key)}/adapter/weights.bin")
    evaluate = corrupt_and_reread(plan, store, train, "adapter/weights.bin", how)

    backend, ok = submit(plan, store)

    assert ok and backend.launches.count(train.key) == 1
    assert f"step train/{train.key[:12]} is damaged" in backend.output[evaluate.key][0]
    assert store.get_bytes(f"{step_dir('train', train.key)}/adapter/weights.bin") == intact


def test_a_redone_step_with_other_content_invalidates_its_dependents_on_s3(
        plan: Plan, store: Store, toy: Toy) -> None:
    assert submit(plan, store)[1]
    prepare = one(plan, "prepare")
    store.delete(f"{step_dir('prepare', prepare.key)}/{MARKER}")
    toy.salt["prepare"] += 1

    backend, ok = submit(plan, store)

    assert ok and set(backend.launches) == {prepare.key} | plan.downstream({prepare.key})
    assert submit(plan, store)[0].launches == []


def test_the_real_prepare_step_finds_a_truncated_upstream_file(store: Store, tmp_path: Path) -> None:
    """A real step in a subprocess: the consumer exits 4 (input damaged, a free retry) naming the
    upstream step, whose marker is moved aside so the next pass recomputes it."""
    real = build_plan(parse_spec(tiny_spec(tmp_path / "unused")))
    prepares = [s for s in real.steps if s.kind == "prepare"]
    consumer = next(s for s in prepares if s.inputs)
    (upstream,) = [s for s in prepares if s.key in {i.key for i in consumer.inputs}]
    assert run_step(store, upstream).returncode == 0
    path = f"{step_dir('prepare', upstream.key)}/data.jsonl"
    store.put_bytes(path, truncate(store.get_bytes(path)))

    run = run_step(store, consumer)

    assert run.returncode == EXIT_INPUT_DAMAGED, run.stdout + run.stderr
    assert f"the output of step prepare/{upstream.key[:12]} is damaged: {path} has" in run.stdout
    assert not store.is_done("prepare", upstream.key) and not store.is_done("prepare", consumer.key)
    assert run_step(store, upstream).returncode == 0  # redone: whole again
    assert run_step(store, consumer).returncode == 0
    marker = store.get_marker("prepare", consumer.key)
    assert marker is not None
    assert marker["inputs"] == {upstream.key: store.get_marker("prepare", upstream.key)["digest"]}  # type: ignore[index]


def run_step(store: Store, step: Any) -> subprocess.CompletedProcess[str]:
    store.put_json(f"{step_dir(step.kind, step.key)}/_step.json", step.definition())
    return subprocess.run([sys.executable, "-m", "nativejobs.steps", "run", "--store", store.uri,
                           "--step", step.ref], capture_output=True, text=True, timeout=180,
                          env=dict(os.environ))
