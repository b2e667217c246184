"""What a step sees while it runs: its params, its inputs, the store, a logger, a scratch dir."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from nativejobs.store import Store, step_dir

__all__ = ["StepContext", "StepProtocol"]

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
