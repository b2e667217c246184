"""``nativejobs gc``: the step outputs no recorded run refers to, and their removal.

A step folder (``steps/<kind>/<key>/``) is kept while the plan of any run recorded in the store
(``runs/<name>/run.json``) names its key; every other one is garbage, left by a spec edited
since or an older plan of a run. A run can be forgotten too: its state goes, and the step
folders only it referred to become garbage. Other runs' state, caches (``cache/``: translated
segments, judge verdicts) and mirrored inputs (``inputs/``) are never touched. Removal is
refused while a controller drives any run of the store; a step a later submit needs again is
recomputed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from nativejobs.controller import RunLease
from nativejobs.runs import RunState, run_names
from nativejobs.store import Store, step_dir

__all__ = ["Garbage", "StepFolder", "collect", "find_garbage", "remove", "step_folders"]

STEPS = "steps"


@dataclass(frozen=True)
class StepFolder:
    kind: str
    key: str
    files: int
    bytes: int

    @property
    def path(self) -> str:
        return step_dir(self.kind, self.key)


@dataclass(frozen=True)
class Garbage:
    """The store's step folders, split by whether a recorded run refers to them (the runs
    being forgotten do not count)."""

    runs: list[str]
    forgotten: list[str]
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


def find_garbage(runs: list[str], folders: list[StepFolder], referenced: set[str], *,
                 forgotten: Sequence[str] = ()) -> Garbage:
    return Garbage(runs, list(forgotten), [f for f in folders if f.key in referenced],
                   [f for f in folders if f.key not in referenced])


def _referenced(store: Store, runs: list[str], forgotten: Sequence[str]) -> set[str]:
    return {s.key for name in runs if name not in forgotten for s in RunState(store, name).record().steps}


def collect(store: Store, *, forget: Sequence[str] = ()) -> Garbage:
    """Read every run's plan and list every step folder; the runs in ``forget`` count as gone.

    Raises:
        StoreNotFoundError: A run in ``forget`` is not recorded in the store.
        StoreError: A run's record is damaged (what it refers to is then unknown).
    """
    runs = run_names(store)
    for name in forget:
        RunState(store, name).record()  # names the run if it is not there
    return find_garbage(runs, step_folders(store.sizes(STEPS)), _referenced(store, runs, forget),
                        forgotten=sorted(set(forget)))


def remove(store: Store, garbage: Garbage) -> list[StepFolder]:
    """Delete the forgotten runs' state, then the garbage step folders that no run refers to
    now either; returns the folders deleted. Raises: RunBusy if a controller drives any run of
    the store (it may be about to record a plan that needs them)."""
    runs = run_names(store)
    for name in runs:
        RunLease(RunState(store, name)).check()
    referenced = _referenced(store, runs, garbage.forgotten)  # a run recorded since keeps its steps
    for name in garbage.forgotten:
        RunState(store, name).forget()
    gone = [f for f in garbage.garbage if f.key not in referenced]
    store.map(lambda f: store.delete_prefix(f.path), gone)
    return gone
