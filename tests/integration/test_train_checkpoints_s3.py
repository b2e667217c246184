"""Train-step checkpoints in a real S3 store (MinIO): a SIGKILLed step resumes from its last
complete checkpoint in the bucket and ends where an uninterrupted run ends.

The run: a tiny random Llama (``tests/e2e/test_train_step.py``), 12 rows (9 trained, 3 held
out), 2 epochs × 3 optimizer steps, a checkpoint every step, one CPU thread. The uninterrupted
reference runs on a local store; tolerances are the e2e kill test's (1e-6, see there). The
bucket is versioned so that deletions leave dated delete markers: they show that the last
checkpoint was removed after the adapter and metrics.json were written and before the step's
marker, and that its own marker went first.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from nativejobs.store import FileStore, S3Store, Store
from nativejobs.training.checkpoints import COMPLETE, CheckpointStore
from tests.e2e.test_train_step import (
    assert_resumed_run_matches,
    counting_rows,
    kill_after_first_checkpoint,
    run_step,
    save_tiny_model,
    write_train_step,
)

if TYPE_CHECKING:
    from tests.integration.conftest import MinioServer

pytestmark = pytest.mark.integration

RECIPE: dict[str, Any] = dict(epochs=2, effective_batch_size=4, micro_batch_size=2, max_length=64,
                              heldout_fraction=0.25, warmup_steps=1, checkpoint_every_steps=1)
STEPS = 6  # 2 epochs × ceil(9 rows / 2 per micro-batch / 2 micro-batches per step)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    return save_tiny_model(tmp_path_factory.mktemp("tiny-model"))


def _history(minio: MinioServer, store: S3Store, key: str) -> tuple[dict[str, datetime], dict[str, datetime]]:
    """(when each object under the step was last written, when each was deleted), by store path."""
    prefix = f"{store.prefix}/steps/train/{key}/"
    written: dict[str, datetime] = {}
    deleted: dict[str, datetime] = {}
    pages = minio.client().get_paginator("list_object_versions").paginate(Bucket=store.bucket, Prefix=prefix)
    for page in pages:
        for v in page.get("Versions", []):
            path = v["Key"][len(store.prefix) + 1 :]
            written[path] = max(written.get(path, v["LastModified"]), v["LastModified"])
        for d in page.get("DeleteMarkers", []):
            path = d["Key"][len(store.prefix) + 1 :]
            deleted[path] = max(deleted.get(path, d["LastModified"]), d["LastModified"])
    return written, deleted


def test_killed_train_step_resumes_from_its_s3_checkpoint(
        s3_store: Store, s3_env: MinioServer, tmp_path: Path, tiny_model: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(s3_store, S3Store)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_env.endpoint_url)  # the step subprocesses' S3
    s3_env.client().put_bucket_versioning(Bucket=s3_store.bucket,
                                          VersioningConfiguration={"Status": "Enabled"})
    rows = counting_rows(12)
    ref = FileStore(tmp_path / "uninterrupted")
    key = write_train_step(ref, rows, model_id=tiny_model, lr=1e-3, **RECIPE)
    done = run_step(ref, key)
    assert done.returncode == 0, done.stdout + done.stderr

    assert write_train_step(s3_store, rows, model_id=tiny_model, lr=1e-3, **RECIPE) == key
    at_kill = kill_after_first_checkpoint(s3_store, key, poll_s=0.1)
    checkpoints = CheckpointStore(s3_store, f"steps/train/{key}/checkpoints")
    assert at_kill < STEPS
    in_bucket = s3_store.list(f"steps/train/{key}/checkpoints/step-{at_kill}")
    assert f"steps/train/{key}/checkpoints/step-{at_kill}/{COMPLETE}" in in_bucket
    assert any(p.endswith("/optimizer.pt") for p in in_bucket)

    resumed = run_step(s3_store, key)

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"resuming from the checkpoint at optimizer step {at_kill}" in resumed.stdout
    assert_resumed_run_matches(s3_store, ref, key, at_kill=at_kill, steps=STEPS, epochs=2)
    assert checkpoints.latest() is None and not s3_store.list(f"steps/train/{key}/checkpoints")
    assert s3_store.is_done("train", key)
    written, deleted = _history(s3_env, s3_store, key)
    outputs = [p for p in written if p.endswith("/metrics.json") or "/adapter/" in p]
    last = f"steps/train/{key}/checkpoints/step-{STEPS}/"
    last_deleted = [t for p, t in deleted.items() if p.startswith(last)]
    assert len(outputs) >= 3 and last_deleted, (sorted(written), sorted(deleted))
    assert max(written[p] for p in outputs) <= min(last_deleted)
    assert deleted[f"{last}{COMPLETE}"] == min(last_deleted)  # its marker went first
    assert max(last_deleted) <= written[f"steps/train/{key}/_SUCCESS.json"]
