"""Training checkpoints in the store, written marker-last and pruned.

Layout under a train step's own prefix::

    steps/train/<key>/checkpoints/step-<N>/...            the Trainer's checkpoint folder
    steps/train/<key>/checkpoints/step-<N>/_COMPLETE.json  written last: the only proof it is whole

A folder without its marker is a torn upload (the job died mid-write) and is ignored, then
deleted. Only the newest complete checkpoint is kept once a newer one is complete.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from nativejobs.store import Store

__all__ = ["COMPLETE", "CheckpointStore"]

COMPLETE = "_COMPLETE.json"
FORMAT_VERSION = 1
_STEP = re.compile(r"step-(\d+)")


@dataclass(frozen=True)
class CheckpointStore:
    """The checkpoints of one train step."""

    store: Store
    prefix: str  # e.g. steps/train/<key>/checkpoints

    def _dir(self, step: int) -> str:
        return f"{self.prefix}/step-{step}"

    def _steps(self, *, complete: bool) -> list[int]:
        found = set()
        for path in self.store.list(self.prefix):
            folder, _, rest = path[len(self.prefix) :].strip("/").partition("/")
            if (m := _STEP.fullmatch(folder)) and (not complete or rest == COMPLETE):
                found.add(int(m.group(1)))
        return sorted(found)

    def latest(self) -> int | None:
        """Optimizer step of the newest complete checkpoint, or None."""
        steps = self._steps(complete=True)
        return steps[-1] if steps else None

    def save(self, local: Path, step: int) -> None:
        """Upload ``local`` as the checkpoint of ``step``, marker last, then prune the others."""
        files = sorted(p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file())
        self.store.upload_dir(local, self._dir(step))
        self.store.put_json(f"{self._dir(step)}/{COMPLETE}",
                            {"format_version": FORMAT_VERSION, "step": step, "files": files,
                             "written_at": time.time()})
        self.prune(keep=step)

    def prune(self, *, keep: int | None) -> None:
        """Delete every checkpoint but ``keep`` (None: delete all), each marker first."""
        for step in self._steps(complete=False):
            if step != keep:
                self.store.delete(f"{self._dir(step)}/{COMPLETE}")  # invalid before it is partial
                self.store.delete_prefix(self._dir(step))

    def download(self, step: int, local: Path) -> Path:
        """Copy the checkpoint of ``step`` into ``local`` (without its marker)."""
        self.store.download_dir(self._dir(step), local)
        (local / COMPLETE).unlink(missing_ok=True)
        return local
