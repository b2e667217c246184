"""What a step sees while it runs: its params, its inputs, the store, a logger, a scratch dir.

The store a step gets from the entrypoint is a ``CheckedStore``: every read of an input step's
output is checked against the size and SHA-256 its marker vouches for (a mismatch moves that
marker aside and fails this step with an ``ArtifactDamagedError`` naming the input step: exit 4,
a retry that costs this step nothing), and every write under the step's own folder is digested
on the way, so the marker that vouches for the outputs needs no second read of them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from nativejobs.store import (
    INVALID_DIR,
    ArtifactDamagedError,
    Store,
    file_digest,
    is_vouched,
    stale_inputs,
    step_dir,
)

__all__ = ["CheckedStore", "StepContext", "StepProtocol", "drop_if_stale"]

T = TypeVar("T")


@dataclass
class StepContext:
    store: Store
    kind: str
    key: str
    params: dict[str, Any]
    labels: dict[str, str]
    inputs: dict[str, dict[str, str]]  # name -> {kind, key, artifact}
    workdir: Path
    log: logging.LoggerAdapter  # type: ignore[type-arg]

    def out(self, name: str) -> str:
        """Store path of one of this step's outputs."""
        return f"{step_dir(self.kind, self.key)}/{name}"

    def input_path(self, name: str) -> str:
        i = self.inputs[name]
        return f"{step_dir(i['kind'], i['key'])}/{i['artifact']}"

    def download_input(self, name: str) -> Path:
        """Copy a folder input into the scratch dir and return its local path."""
        return self.store.download_dir(self.input_path(name), self.workdir / "inputs" / name)

    def progress(self, items: Iterable[T], *, total: int, what: str, every_s: float = 10.0) -> Iterator[T]:
        """Yield ``items``, logging 'what i/total (rate/s)' lines so long work shows in the logs."""
        start = last = time.monotonic()
        for i, item in enumerate(items, 1):
            yield item
            now = time.monotonic()
            if now - last >= every_s or i == total:
                last = now
                rate = i / max(now - start, 1e-9)
                self.log.info("%s %d/%d (%.2f/s)", what, i, total, rate)


class StepProtocol(Protocol):
    """torchtune-style recipe: cheap checks in __init__, setup(), run() -> metrics, cleanup()."""

    def __init__(self, ctx: StepContext) -> None: ...
    def setup(self) -> None: ...
    def run(self) -> dict[str, Any]: ...
    def cleanup(self) -> None: ...


class CheckedStore(Store):
    """``inner`` as one running step sees it: input outputs checked, own outputs digested."""

    def __init__(self, inner: Store, *, kind: str, key: str,
                 inputs: Mapping[str, Mapping[str, str]]) -> None:
        self.inner, self.uri = inner, inner.uri
        self.own = f"{step_dir(kind, key)}/"
        self.producers: dict[tuple[str, str], str] = {}  # (kind, key) -> the first input's name
        for name, i in inputs.items():
            self.producers.setdefault((i["kind"], i["key"]), name)
        self.markers: dict[tuple[str, str], dict[str, Any]] = {}
        self.written: dict[str, dict[str, Any]] = {}  # store path -> file_digest, this process

    # -- the inputs ------------------------------------------------------------------------------
    def load_markers(self) -> None:
        """Read every input step's marker once, before any work (the digests this step records
        as built from). Raises: ArtifactDamagedError if an input step's marker was moved aside
        (retryable)."""
        for ref in self.producers:
            self._marker(*ref)

    def input_digests(self) -> dict[str, str | None]:
        """Input step key -> the ``digest`` of the marker this step read (None: a legacy one)."""
        self.load_markers()
        return {key: m.get("digest") for (_, key), m in self.markers.items()}

    def _marker(self, kind: str, key: str) -> dict[str, Any]:
        if (kind, key) not in self.markers:
            marker = self.inner.get_marker(kind, key)
            if marker is None and self.inner.list(f"{step_dir(kind, key)}/{INVALID_DIR}"):
                raise ArtifactDamagedError(
                    f"input {self.producers[kind, key]}: step {kind}/{key[:12]} is not done (its "
                    "marker was moved aside); this step runs again after it is redone")
            # No marker and none moved aside: an input put there by hand (tests, a copied
            # store). It vouches for nothing, like a legacy marker: read unchecked.
            self.markers[kind, key] = marker if marker is not None else {}
        return self.markers[kind, key]

    def _producer(self, path: str) -> tuple[str, str, str] | None:
        """(kind, key, path in its folder) if ``path`` is an input step's output."""
        parts = path.strip("/").split("/", 3)
        if len(parts) == 4 and parts[0] == "steps" and (parts[1], parts[2]) in self.producers:
            return parts[1], parts[2], parts[3]
        return None

    def _read_input(self, kind: str, key: str, rel: str) -> bytes:
        try:
            return self.inner.read_vouched(kind, key, rel, marker=self._marker(kind, key))
        except ArtifactDamagedError as e:
            raise ArtifactDamagedError(f"input {self.producers[kind, key]}: {e}") from e

    # -- the Store interface -----------------------------------------------------------------
    def get_bytes(self, path: str) -> bytes:
        ref = self._producer(path)
        if ref is None or not is_vouched(ref[2]):
            return self.inner.get_bytes(path)
        return self._read_input(*ref)

    def download_dir(self, prefix: str, local: Path) -> Path:
        ref = self._producer(f"{prefix.rstrip('/')}/")
        if ref is not None:  # a file the marker vouches for that is gone fails here, by name
            kind, key, rel = ref
            base = step_dir(kind, key)
            found = {p[len(base) + 1 :] for p in self.inner.list(prefix)}
            vouched = self._marker(kind, key).get("files") or {}
            for missing in sorted(r for r in vouched if r.startswith(rel) and r not in found):
                self._read_input(kind, key, missing)
        return super().download_dir(prefix, local)  # each file through get_bytes: checked

    def put_bytes(self, path: str, data: bytes) -> None:
        self.inner.put_bytes(path, data)
        if path.startswith(self.own):
            self.written[path] = file_digest(data)

    def exists(self, path: str) -> bool:
        return self.inner.exists(path)

    def sizes(self, prefix: str) -> dict[str, int]:
        return self.inner.sizes(prefix)

    def delete(self, path: str) -> None:
        self.inner.delete(path)
        self.written.pop(path, None)

    def delete_prefix(self, prefix: str) -> None:
        self.inner.delete_prefix(prefix)
        base = prefix.strip("/")
        for path in [p for p in self.written if p == base or p.startswith(f"{base}/")]:
            del self.written[path]


def drop_if_stale(store: Store, kind: str, key: str, marker: Mapping[str, Any]) -> bool:
    """Move the step's ``marker`` aside if an input step was redone with other content since
    it was written (its ``inputs`` digests no longer match). Returns whether it was moved."""
    if not marker.get("inputs"):
        return False  # a legacy marker, or a step without inputs
    current: dict[str, str | None] = {}
    for i in store.get_json(f"{step_dir(kind, key)}/_step.json")["inputs"]:
        found = store.get_marker(i["kind"], i["key"])
        current[i["key"]] = found.get("digest") if found else None
    if not (stale := stale_inputs(marker, current)):
        return False
    reason = f"built from outputs of {', '.join(k[:12] for k in stale)} that were redone since"
    store.invalidate_marker(kind, key, reason, digest=marker.get("digest"))
    return True
