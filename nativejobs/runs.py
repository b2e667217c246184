"""A run's state in the store, as typed records under ``runs/<name>/``.

| file            | record          | written by                                   |
|-----------------|-----------------|----------------------------------------------|
| ``run.json``      | ``RunRecord``     | submit: the spec, its plan's steps            |
| ``attempts.json`` | ``Attempt`` lists | the orchestrator, once per reconcile pass     |
| ``cancel.json``   | ``CancelRequest`` | ``nativejobs cancel``; cleared by a submit     |
| ``live.json``     | ``LiveStatus``    | the controller: why waiting steps wait        |
| ``controller.json`` | ``ControllerLease`` | the controller driving the run, every few s |

A step's logs are ``steps/<kind>/<key>/_logs/attempt-N.log`` (``step_log_path``).
``done_markers`` (``done_digests`` and ``done_keys`` are built on it) is the one reading of
"done" over a whole plan (status, plan, the report, and the orchestrator before its first
pass): a marker built from its inputs' current outputs (``store.stale_inputs``), as a
reconcile pass judges it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from nativejobs.errors import StoreError, StoreNotFoundError, short_text
from nativejobs.plan import Plan
from nativejobs.store import Store, stale_inputs, step_dir

__all__ = ["LAUNCHED", "Attempt", "CancelRequest", "ControllerLease", "LiveStatus", "RunRecord", "RunState",
           "StepRecord", "StepStatus", "done_digests", "done_keys", "done_markers", "drives_run",
           "run_names", "step_log_path", "step_records", "step_statuses"]

T = TypeVar("T")
LAUNCHED = "launched"  # an attempt's outcome until it is observed to end


@dataclass
class Attempt:
    """One launch of a step, recorded before the launch so a controller that dies mid-run
    never reuses an attempt number (nor the log file named after it)."""

    number: int
    outcome: str
    exit_code: int | None
    reason: str
    finished_at: float | None

    @property
    def open(self) -> bool:
        return self.outcome == LAUNCHED


@dataclass(frozen=True)
class StepRecord:
    """One planned step as ``run.json`` keeps it: enough to show, report and judge it done."""

    kind: str
    key: str
    labels: dict[str, str]
    inputs: list[str] | None  # input step keys; None: a run.json from before they were recorded

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        return doc if self.inputs is not None else {k: v for k, v in doc.items() if k != "inputs"}


def step_records(plan: Plan) -> list[StepRecord]:
    """The plan's steps as records, in its (dependency) order."""
    return [StepRecord(s.kind, s.key, dict(s.labels), [i.key for i in s.inputs]) for s in plan.steps]


@dataclass(frozen=True)
class RunRecord:
    """What a submit recorded: the spec as validated, and its plan's steps in dependency order."""

    name: str
    submitted_at: float
    spec: dict[str, Any]
    summary: str  # the summarize step's ref, kind/key
    steps: list[StepRecord]

    @classmethod
    def of(cls, spec: dict[str, Any], plan: Plan, *, now: float) -> RunRecord:
        return cls(plan.name, now, spec, plan.summary.ref, step_records(plan))

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> RunRecord:
        steps = [StepRecord(s["kind"], s["key"], s.get("labels", {}), s.get("inputs"))
                 for s in doc["steps"]]
        return cls(doc["name"], doc.get("submitted_at", 0.0), doc["spec"], doc["summary"], steps)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "steps": [s.to_json() for s in self.steps]}


@dataclass(frozen=True)
class CancelRequest:
    requested_at: float


@dataclass(frozen=True)
class LiveStatus:
    """What only the controller sees: step key -> why it is not running yet."""

    updated_at: float
    pending: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ControllerLease:
    """Which controller drives a run, and when it last said so."""

    holder: str  # the controller's identity: its driver Job's, else host:pid
    host: str
    pid: int
    heard_at: float

    def describe(self, now: float) -> str:
        return f"{self.holder}, heard from {max(now - self.heard_at, 0):.0f} s ago"


def drives_run(lease: ControllerLease | None, *, me: str, host: str, now: float, stale_s: float,
               pid_alive: Callable[[int], bool]) -> bool:
    """Whether ``lease`` names another controller that may still be driving the run: not ours,
    heard from within ``stale_s``, and, on this host, a live process."""
    if lease is None or lease.holder == me or now - lease.heard_at > stale_s:
        return False
    return lease.host != host or pid_alive(lease.pid)


@dataclass(frozen=True)
class StepStatus:
    """One step of a run as ``nativejobs status`` shows it."""

    step: StepRecord
    state: str  # "done", "not run", or its latest attempt's outcome (launched, retry, lost, ...)
    attempts: int
    why: str  # why a launched step waits (the controller's view), or how its last attempt ended


def step_statuses(run: RunRecord, attempts: Mapping[str, Sequence[Attempt]], done: Collection[str],
                  pending: Mapping[str, str]) -> list[StepStatus]:
    """Every step of ``run``, in plan order; ``done`` as ``done_keys`` judges it."""
    out = []
    for step in run.steps:
        tries = attempts.get(step.key, [])
        if step.key in done:
            out.append(StepStatus(step, "done", len(tries), ""))
            continue
        last = tries[-1] if tries else None
        why = pending.get(step.key, last.reason if last else "")
        out.append(StepStatus(step, last.outcome if last else "not run", len(tries), why))
    return out


def step_log_path(kind: str, key: str, attempt: int) -> str:
    return f"{step_dir(kind, key)}/_logs/attempt-{attempt}.log"


class RunState:
    """The store's ``runs/<name>/`` of one run: each record read and written whole."""

    def __init__(self, store: Store, name: str) -> None:
        self.store, self.name = store, name
        self.prefix = f"runs/{name}"
        self._encoded: dict[str, tuple[list[tuple[Any, ...]], str]] = {}  # put_attempts' per step

    # -- run.json ------------------------------------------------------------------------------
    def put_record(self, record: RunRecord) -> None:
        """Record a submit; a new submit overrides an earlier cancel."""
        self.store.put_json(f"{self.prefix}/run.json", record.to_json())
        self.clear_cancel()

    def record(self) -> RunRecord:
        """Raises: StoreNotFoundError naming the run if it was never submitted to this store."""
        try:
            with self._readable():
                return RunRecord.from_json(self.store.get_json(f"{self.prefix}/run.json"))
        except StoreNotFoundError:
            raise StoreNotFoundError(f"no run named {self.name!r} in {self.store.uri}; check the name "
                                     "or pass --store") from None

    # -- attempts.json -------------------------------------------------------------------------
    def attempts(self) -> dict[str, list[Attempt]]:
        path = f"{self.prefix}/attempts.json"
        if not self.store.exists(path):
            return {}
        with self._readable():
            raw: dict[str, list[dict[str, Any]]] = self.store.get_json(path)
            return {k: [Attempt(**a) for a in v] for k, v in raw.items()}

    def put_attempts(self, attempts: Mapping[str, Sequence[Attempt]]) -> None:
        """Write every step's attempts; a step's are encoded again only when they changed
        since this object last wrote them (it is written once a reconcile pass: encoding a
        10,000-step plan whole each time was a quarter of the controller's CPU)."""
        parts = []
        for key in sorted(attempts):
            tries = attempts[key]
            seen = [tuple(vars(a).values()) for a in tries]
            cached = self._encoded.get(key)
            if cached is None or cached[0] != seen:
                text = json.dumps([vars(a) for a in tries], ensure_ascii=False, sort_keys=True)
                cached = self._encoded[key] = (seen, f"{json.dumps(key)}: {text}")
            parts.append(cached[1])
        self.store.put_text(f"{self.prefix}/attempts.json", "{" + ", ".join(parts) + "}\n")

    # -- cancel.json ---------------------------------------------------------------------------
    def request_cancel(self, *, now: float) -> None:
        self.store.put_json(f"{self.prefix}/cancel.json", asdict(CancelRequest(now)))

    def clear_cancel(self) -> None:
        self.store.delete(f"{self.prefix}/cancel.json")

    def is_cancel_requested(self) -> bool:
        return self.store.exists(f"{self.prefix}/cancel.json")

    # -- live.json -----------------------------------------------------------------------------
    def put_live(self, live: LiveStatus) -> None:
        self.store.put_json(f"{self.prefix}/live.json", asdict(live))

    def live(self) -> LiveStatus:
        path = f"{self.prefix}/live.json"
        if not self.store.exists(path):
            return LiveStatus(0.0)
        with self._readable():
            doc = self.store.get_json(path)
            return LiveStatus(doc.get("updated_at", 0.0), doc.get("pending", {}))

    # -- controller.json -----------------------------------------------------------------------
    def put_lease(self, lease: ControllerLease) -> None:
        self.store.put_json(f"{self.prefix}/controller.json", asdict(lease))

    def lease(self) -> ControllerLease | None:
        """The lease, or None; an unreadable one counts as none (it only ever keeps a second
        controller off, and must not keep every controller off)."""
        try:
            doc = self.store.get_json(f"{self.prefix}/controller.json")
            return ControllerLease(str(doc["holder"]), str(doc["host"]), int(doc["pid"]),
                                   float(doc["heard_at"]))
        except (StoreNotFoundError, ValueError, UnicodeDecodeError, KeyError, TypeError):
            return None

    def drop_lease(self, holder: str) -> None:
        """Remove the lease if ``holder`` still holds it (a later controller may have taken it)."""
        lease = self.lease()
        if lease is not None and lease.holder == holder:
            self.store.delete(f"{self.prefix}/controller.json")

    def forget(self) -> None:
        """Delete the run's whole state (``nativejobs gc --forget``); its steps stay in the store."""
        self.store.delete_prefix(self.prefix)

    # -- logs ----------------------------------------------------------------------------------
    def put_step_log(self, kind: str, key: str, attempt: int, text: str) -> None:
        self.store.put_text(step_log_path(kind, key, attempt), text)

    def step_logs(self, kind: str, key: str) -> dict[int, str]:
        """Attempt number -> store path of its log, for the attempts that stored one."""
        return {int(p.rsplit("-", 1)[1].removesuffix(".log")): p
                for p in self.store.list(f"{step_dir(kind, key)}/_logs")}

    @contextlib.contextmanager
    def _readable(self) -> Iterator[None]:
        """A stored file that does not parse (a truncated write, a damaged disk) is named as
        such, not reported as a bug of ours."""
        try:
            yield
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise self._damaged(f"not JSON: {short_text(str(e))}") from e
        except (KeyError, TypeError, AttributeError) as e:  # JSON, but not the record's shape
            raise self._damaged(f"not a run record: {short_text(repr(e))}") from e

    def _damaged(self, what: str) -> StoreError:
        return StoreError(f"run {self.name!r} in {self.store.uri}: a stored file is damaged ({what}); "
                          "run with --debug to see which")


def run_names(store: Store) -> list[str]:
    """The names of the runs recorded in ``store`` (those with a ``run.json``), sorted."""
    return sorted({p.split("/")[1] for p in store.list("runs")
                   if p.count("/") == 2 and p.endswith("/run.json")})


def done_keys(store: Store, steps: Sequence[StepRecord]) -> set[str]:
    """Keys of the steps that are done as the orchestrator judges it (``done_digests``)."""
    return set(done_digests(store, steps))


def done_digests(store: Store, steps: Sequence[StepRecord]) -> dict[str, str | None]:
    """The steps that are done as the orchestrator judges it -> their marker's digest."""
    return done_markers(store, steps, lambda marker: marker.get("digest"))


def done_markers(store: Store, steps: Sequence[StepRecord],
                 pick: Callable[[Mapping[str, Any]], T]) -> dict[str, T]:
    """The steps that are done as the orchestrator judges it -> ``pick`` of their marker: a
    marker, inputs done, and built from their current outputs (``stale_inputs``). ``steps`` in
    dependency order; one marker read per step whose inputs are done, a dependency level at a
    time (each level's reads at once on an object store); nothing is moved aside."""
    levels: dict[str, int] = {}
    by_level: dict[int, list[StepRecord]] = {}
    for step in steps:
        levels[step.key] = level = 1 + max((levels.get(k, 0) for k in step.inputs or []), default=0)
        by_level.setdefault(level, []).append(step)
    digests: dict[str, str | None] = {}
    picked: dict[str, T] = {}
    for level in sorted(by_level):
        ready = [s for s in by_level[level] if all(k in digests for k in s.inputs or [])]
        markers = store.get_markers([(s.kind, s.key) for s in ready])
        for step, marker in zip(ready, markers, strict=True):
            inputs = step.inputs or []
            if marker is not None and not stale_inputs(marker, {k: digests[k] for k in inputs}):
                digests[step.key] = marker.get("digest")
                picked[step.key] = pick(marker)
    return picked
