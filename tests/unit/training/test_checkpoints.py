"""Checkpoints in the store: marker-last, torn uploads ignored, old ones pruned."""

from __future__ import annotations

from pathlib import Path

from nativejobs.store import FileStore
from nativejobs.training.checkpoints import COMPLETE, CheckpointStore

PREFIX = "steps/train/k/checkpoints"


def _local(tmp_path: Path, step: int) -> Path:
    d = tmp_path / f"local-{step}"
    (d / "best_adapter").mkdir(parents=True)
    (d / "optimizer.pt").write_bytes(b"opt%d" % step)
    (d / "best_adapter" / "adapter_model.safetensors").write_bytes(b"w")
    return d


def test_save_writes_marker_last_and_prunes_older(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "store")
    ckpt = CheckpointStore(store, PREFIX)

    ckpt.save(_local(tmp_path, 3), 3)
    ckpt.save(_local(tmp_path, 6), 6)

    assert ckpt.latest() == 6
    assert store.list(PREFIX) == [f"{PREFIX}/step-6/{COMPLETE}",
                                  f"{PREFIX}/step-6/best_adapter/adapter_model.safetensors",
                                  f"{PREFIX}/step-6/optimizer.pt"]
    assert store.get_json(f"{PREFIX}/step-6/{COMPLETE}")["files"] == [
        "best_adapter/adapter_model.safetensors", "optimizer.pt"]


def test_a_torn_upload_is_not_a_checkpoint_and_is_pruned(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "store")
    ckpt = CheckpointStore(store, PREFIX)
    ckpt.save(_local(tmp_path, 3), 3)
    store.upload_dir(_local(tmp_path, 9), f"{PREFIX}/step-9")  # killed before its marker

    assert ckpt.latest() == 3
    ckpt.prune(keep=ckpt.latest())
    assert not any("/step-9/" in p for p in store.list(PREFIX))


def test_download_brings_files_without_the_marker(tmp_path: Path) -> None:
    ckpt = CheckpointStore(FileStore(tmp_path / "store"), PREFIX)
    ckpt.save(_local(tmp_path, 4), 4)

    local = ckpt.download(4, tmp_path / "restored")

    assert (local / "optimizer.pt").read_bytes() == b"opt4"
    assert not (local / COMPLETE).exists()


def test_prune_none_deletes_everything(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "store")
    ckpt = CheckpointStore(store, PREFIX)
    ckpt.save(_local(tmp_path, 2), 2)

    ckpt.prune(keep=None)

    assert ckpt.latest() is None and store.list(PREFIX) == []


def test_no_checkpoints_yet(tmp_path: Path) -> None:
    assert CheckpointStore(FileStore(tmp_path / "store"), PREFIX).latest() is None
