"""``nativejobs gc``: the step outputs no recorded run refers to, and their removal.

A step folder (``steps/<kind>/<key>/``) is kept while the plan of any run recorded in the store
(``runs/<name>/run.json``) names its key; every other one is garbage, left by a spec edited
since or an older plan of a run. Run state (``runs/``), caches (``cache/``: translated segments,
judge verdicts) and mirrored inputs (``inputs/``) are never touched. Removal is refused while a
controller drives any run of the store; a step a later submit needs again is recomputed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from nativejobs.controller import RunLease
from nativejobs.runs import RunState
from nativejobs.store import Store

__all__ = ["Garbage", "StepFolder", "collect", "find_garbage", "remove", "step_folders"]

STEPS = "steps"
RUNS = "runs"


@dataclass(frozen=True)
class StepFolder:
    kind: str
    key: str
    files: int
    bytes: int

    @property
    def path(self) -> str:
        return f"{STEPS}/{self.kind}/{self.key}"


@dataclass(frozen=True)
class Garbage:
    """The store's step folders, split by whether a recorded run refers to them."""

    runs: list[str]
    kept: list[StepFolder]
    garbage: list[StepFolder]


def step_folders(sizes: Mapping[str, int]) -> list[StepFolder]:
    """The step folders among ``sizes`` (path -> bytes, as ``Store.sizes`` gives), sorted."""
    files: dict[tuple[str, str], list[int]] = {}
    for path, size in sizes.items():
        parts = path.split("/", 3)
        if len(parts) == 4 and parts[0] == STEPS:  # a file inside steps/<kind>/<key>/
            files.setdefault((parts[1], parts[2]), []).append(size)
    return [StepFolder(kind, key, len(s), sum(s)) for (kind, key), s in sorted(files.items())]


def find_garbage(runs: list[str], folders: list[StepFolder], referenced: set[str]) -> Garbage:
    return Garbage(runs, [f for f in folders if f.key in referenced],
                   [f for f in folders if f.key not in referenced])


def _run_names(store: Store) -> list[str]:
    return sorted({p.split("/")[1] for p in store.list(RUNS) if p.endswith("/run.json")
                   and p.count("/") == 2})


def _referenced(store: Store, runs: list[str]) -> set[str]:
    return {s.key for name in runs for s in RunState(store, name).record().steps}


def collect(store: Store) -> Garbage:
    """Read every run's plan and list every step folder. Raises: StoreError if a run's record
    is damaged (what it refers to is then unknown, so nothing can be called garbage)."""
    runs = _run_names(store)
    return find_garbage(runs, step_folders(store.sizes(STEPS)), _referenced(store, runs))


def remove(store: Store, garbage: Garbage) -> list[StepFolder]:
    """Delete the garbage step folders that no run refers to now either; returns those deleted.
    Raises: RunBusy if a controller drives any run of the store (it may be about to record a
    plan that needs them)."""
    runs = _run_names(store)
    for name in runs:
        RunLease(RunState(store, name)).check()
    referenced = _referenced(store, runs)  # a run recorded since collect() keeps its steps
    gone = [f for f in garbage.garbage if f.key not in referenced]
    store.map(lambda f: store.delete_prefix(f.path), gone)
    return gone
