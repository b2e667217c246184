"""Level-triggered reconcile: each pass recomputes every step's state from the store's markers,
the run's recorded attempts and a fresh backend listing, then launches what is ready.

Nothing is remembered only in memory: kill the controller at any point, start it again, and
the next pass picks up where the store says the run is. Retry budgets live in the store
(``runs/<name>/attempts.json``, through ``nativejobs.runs``), written once a pass.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, Protocol

from nativejobs.exit_codes import EXIT_BAD_INPUT, EXIT_INPUT_DAMAGED
from nativejobs.plan import Plan, Step
from nativejobs.runs import LAUNCHED, Attempt, RunState, done_digests, step_records
from nativejobs.store import Store, stale_inputs, step_dir

__all__ = ["Attempt", "Backend", "Observation", "Orchestrator", "Outcome", "RunStatus", "State", "classify"]

log = logging.getLogger(__name__)

# Launches are recorded (attempts.json saved) a batch at a time: a save per step made a pass over a
# big plan O(steps²) in bytes written, and one save for the whole pass would hold back the first
# Job until every step's definition was written.
_LAUNCH_BATCH = 100
# A pass stops launching after this long and leaves the rest to the next pass (at once, no
# poll wait): launching 10,000 steps in one pass took minutes in which no end was recorded and
# a cancel was not seen.
LAUNCH_BUDGET_S = 10.0
_PRIORITY = {"prepare": 0, "translate": 1, "train": 2, "evaluate": 3, "judge": 4, "summarize": 5}


@dataclass(frozen=True)
class Observation:
    """What a backend sees of one launched step right now."""

    key: str
    phase: Literal["running", "succeeded", "failed"]
    exit_code: int | None = None
    reason: str = ""  # e.g. Evicted, DeadlineExceeded
    attempt: int | None = None  # which attempt, when the backend knows (a Job's label)


class Outcome(StrEnum):
    DONE = "done"
    RETRY = "retry"  # costs one attempt of the budget
    RETRY_FREE = "retry_free"  # preemption, or an input found damaged (exit 4): costs nothing
    BAD_INPUT = "bad_input"  # exit 3: never retried
    LOST = "lost"  # launched, then gone unseen (the controller or the Job died): costs nothing


def classify(obs: Observation, *, has_marker: bool) -> Outcome:
    """How a finished step counts: the marker is the only proof of done."""
    if has_marker:
        return Outcome.DONE
    if obs.exit_code == EXIT_BAD_INPUT:
        return Outcome.BAD_INPUT
    if obs.exit_code == EXIT_INPUT_DAMAGED or obs.reason in ("Evicted", "DisruptionTarget", "Preempted"):
        return Outcome.RETRY_FREE
    return Outcome.RETRY


class Backend(Protocol):
    """Runs steps somewhere; knows nothing of ordering."""

    outlives_controller: bool  # steps keep running when the controller stops (a cluster's Jobs)
    launch_concurrency: int  # launch calls that may be in flight at once (a cluster API: several)
    pending: Mapping[str, str]  # step key -> why it is launched but not running yet ("" unknown)

    def launch(self, step: Step, *, store_uri: str, attempt: int) -> None: ...
    def observe(self) -> dict[str, Observation]: ...
    def release(self, key: str) -> str | None:
        """Forget a finished step; returns its log text, or None if the step stored it itself."""
        ...
    def cancel_all(self) -> None: ...


class State(StrEnum):
    DONE = "done"
    RUNNING = "running"
    READY = "ready"
    WAITING = "waiting"  # inputs not done yet, or backing off before a retry
    FAILED = "failed"
    BLOCKED = "blocked"  # an upstream step failed


@dataclass
class RunStatus:
    states: dict[str, State]
    failures: dict[str, str] = field(default_factory=dict)  # key -> why
    launch_cut_short: bool = False  # the pass left ready steps to launch for want of time

    def counts(self) -> Counter[State]:
        return Counter(self.states.values())

    @property
    def finished(self) -> bool:
        return not any(s in (State.RUNNING, State.READY, State.WAITING) for s in self.states.values())

    @property
    def succeeded(self) -> bool:
        return all(s is State.DONE for s in self.states.values())


EventHandler = Callable[[str, Step, str], None]


class Orchestrator:
    """Drives one plan to completion on one backend."""

    def __init__(self, plan: Plan, store: Store, backend: Backend, *, max_parallel: int,
                 retries: int, on_event: EventHandler | None = None,
                 backoff_s: Callable[[int], float] = lambda n: min(60.0, 2.0 ** n),
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic,
                 launch_budget_s: float = LAUNCH_BUDGET_S) -> None:
        self.plan, self.store, self.backend, self.clock = plan, store, backend, clock
        self.monotonic, self.launch_budget_s = monotonic, launch_budget_s
        self.max_parallel, self.retries, self.backoff_s = max_parallel, retries, backoff_s
        self.on_event = on_event or (lambda *_: None)
        self.steps = plan.by_key()
        # Done steps -> their marker's digest (None: a legacy marker). A positive is kept: a
        # marker is moved aside only by a consumer that found the output damaged, and that
        # consumer's failed attempt makes its inputs be read again (_forget_inputs).
        self._done: dict[str, str | None] = {}
        self._forgotten: dict[str, str | None] = {}  # digests dropped from _done, until re-read
        self.run_state = RunState(store, plan.name)
        self.attempts: dict[str, list[Attempt]] = self.run_state.attempts()

    def todo(self) -> list[Step]:
        """The steps not done yet. Reads every marker once (a dependency level at a time, many
        at once on an object store) and keeps what is done, so the first pass reads no more."""
        self._done.update(done_digests(self.store, step_records(self.plan)))
        return [s for s in self.plan.steps if s.key not in self._done]

    def _save_attempts(self) -> None:
        self.run_state.put_attempts(self.attempts)

    def forgive_failures(self) -> list[str]:
        """Clear the attempts of terminally failed steps, so a resubmit tries them again."""
        failed = [k for k in self.attempts if self._terminal_failure(k)]
        for key in failed:
            del self.attempts[key]
        if failed:
            self._save_attempts()
        return failed

    def _terminal_failure(self, key: str) -> str | None:
        tries = self.attempts.get(key, [])
        if any(a.outcome == Outcome.BAD_INPUT for a in tries):
            return "bad input (exit 3); fix the input and resubmit"
        spent = sum(a.outcome == Outcome.RETRY for a in tries)
        if spent > self.retries:
            last = tries[-1]
            reason = f", {last.reason}" if last.reason else ""
            return f"failed {spent} times (last exit code {last.exit_code}{reason})"
        return None

    # -- one pass --------------------------------------------------------------------------------
    def _is_done(self, step: Step) -> bool:
        """Whether the step has its marker, built from its inputs' current outputs: the input
        digests it records match their markers' (read on this pass anyway; no artifact is
        read here). A stale marker is moved aside, so the step is recomputed."""
        if step.key in self._done:
            return True
        marker = self.store.get_marker(step.kind, step.key)
        if marker is None:
            return False
        inputs = {i.key for i in step.inputs}
        if not inputs <= self._done.keys():
            return True  # an ending attempt, before this pass judged the inputs: not kept
        if stale := stale_inputs(marker, {k: self._done[k] for k in inputs}):
            redone = ", ".join(f"{self.steps[k].kind}/{k[:12]}" for k in stale if k in self.steps)
            self.store.invalidate_marker(step.kind, step.key, f"built from outputs of {redone} "
                                         "that were redone since", digest=marker.get("digest"))
            return False
        self._done[step.key] = digest = marker.get("digest")
        if step.key in self._forgotten and self._forgotten.pop(step.key) != digest:
            for key in self.plan.downstream({step.key}):  # redone with other content
                self._done.pop(key, None)
        return True

    def _forget_inputs(self, step: Step) -> None:
        """Read the markers of ``step``'s inputs again: its failure may have been one of them
        found damaged (its marker moved aside, so it is recomputed before ``step`` retries)."""
        for i in step.inputs:
            if i.key in self._done:
                self._forgotten[i.key] = self._done.pop(i.key)

    def _record(self, obs: Observation) -> tuple[Observation, Attempt] | None:
        """Close the attempt ``obs`` ended, in memory (the pass saves once, then reports it)."""
        tries = self.attempts.get(obs.key, [])
        if obs.attempt is not None and any(a.number == obs.attempt and not a.open for a in tries):
            self.backend.release(obs.key)  # an earlier controller recorded this end already
            return None
        outcome = classify(obs, has_marker=self._is_done(self.steps[obs.key]))
        if outcome is not Outcome.DONE:
            self._forget_inputs(self.steps[obs.key])
        return obs, self._close(obs.key, outcome, obs.exit_code, obs.reason)

    def _report(self, obs: Observation, attempt: Attempt) -> None:
        """After the attempts are saved: release the step, store its log, say how it ended."""
        step = self.steps[obs.key]
        done = attempt.outcome == Outcome.DONE
        text = self.backend.release(obs.key)
        if text is not None:
            self.run_state.put_step_log(step.kind, step.key, attempt.number, text)
        self.on_event("succeeded" if done else "failed", step,
                      "" if done else _last_line(text or obs.reason))

    def _close(self, key: str, outcome: Outcome, exit_code: int | None, reason: str) -> Attempt:
        """End the step's open attempt (or add one, for a step launched before attempts were
        recorded at launch), in memory: the caller saves the attempts."""
        tries = self.attempts.setdefault(key, [])
        if not (tries and tries[-1].open):
            tries.append(Attempt(len(tries) + 1, LAUNCHED, None, "", None))
        attempt = tries[-1]
        attempt.outcome, attempt.exit_code, attempt.reason = outcome.value, exit_code, reason
        attempt.finished_at = self.clock()
        return attempt

    def _close_lost(self, observed: dict[str, Observation]) -> int:
        """Open attempts the backend no longer knows of ended unseen: done if their marker
        says so, otherwise lost (no retry spent) and launched again. Returns how many (in
        memory: the caller saves)."""
        closed = 0
        for key, tries in self.attempts.items():
            if tries and tries[-1].open and key not in observed and key in self.steps:
                done = self._is_done(self.steps[key])
                self._close(key, Outcome.DONE if done else Outcome.LOST, None,
                            "" if done else "the step ended unobserved (controller or Job gone)")
                closed += 1
        return closed

    def _state(self, step: Step, running: set[str], states: dict[str, State]) -> State:
        upstream = [states[i.key] for i in step.inputs]
        # Inputs first: a step whose inputs are not done needs no store read on this pass
        # (a marker is written only after the inputs were done), which keeps a pass over a big
        # plan on S3 from costing one request per step.
        if any(s in (State.FAILED, State.BLOCKED) for s in upstream):
            return State.BLOCKED
        if not all(s is State.DONE for s in upstream):
            return State.WAITING
        # Running before done: a step writes its marker just before it exits, and the run must
        # not end (nor its ✓ line and log be skipped) while that attempt is still open.
        if step.key in running:
            return State.RUNNING
        if self._is_done(step):
            return State.DONE
        if self._terminal_failure(step.key):
            return State.FAILED
        tries = self.attempts.get(step.key, [])
        last = tries[-1] if tries else None
        if (last and last.finished_at and last.outcome != Outcome.LOST
                and self.clock() < last.finished_at + self.backoff_s(len(tries))):
            return State.WAITING
        return State.READY

    def reconcile(self, store_uri: str) -> RunStatus:
        """One pass: observe, record finished attempts, launch ready steps."""
        observed = self.backend.observe()
        ended = [r for obs in observed.values() if obs.phase != "running" and obs.key in self.steps
                 and (r := self._record(obs)) is not None]
        # attempts.json is written once a pass, not once a step: on a big plan (or S3) a write
        # per step made each pass O(steps²) in bytes written.
        if self._close_lost(observed) or ended:
            self._save_attempts()
        for obs, attempt in ended:
            self._report(obs, attempt)
        running = {k for k, o in observed.items() if o.phase == "running"}
        states: dict[str, State] = {}
        for step in self.plan.steps:  # dependency order: inputs are decided first
            states[step.key] = self._state(step, running, states)
        free = self.max_parallel - len(running)
        ready = sorted((s for s in self.plan.steps if states[s.key] is State.READY),
                       key=lambda s: _PRIORITY.get(s.kind, 99))  # translations are the long pole
        launching = ready[: max(free, 0)]
        launched = self._launch_for_a_while(launching, store_uri)
        for step in launching[:launched]:
            states[step.key] = State.RUNNING
        failures = {k: why for k in states if states[k] is State.FAILED
                    and (why := self._terminal_failure(k))}
        return RunStatus(states, failures, launch_cut_short=launched < len(launching))

    def _launch_for_a_while(self, steps: list[Step], store_uri: str) -> int:
        """Launch ``steps`` a batch at a time until ``launch_budget_s`` is spent (one batch at
        least); returns how many were launched."""
        started, launched = self.monotonic(), 0
        while launched < len(steps) and (not launched or self.monotonic() - started < self.launch_budget_s):
            batch = steps[launched:launched + _LAUNCH_BATCH]
            self._launch(batch, store_uri)
            launched += len(batch)
        return launched

    def _launch(self, steps: list[Step], store_uri: str) -> None:
        """Record an attempt of each step (one save for all, before their launch: an attempt
        number is never reused, and one recorded but never launched is closed as lost), then
        launch them."""
        if not steps:
            return
        # Several at once on an object store: written one by one, a batch waited a round trip a step.
        self.store.map(lambda s: self.store.put_json(f"{step_dir(s.kind, s.key)}/_step.json",
                                                     s.definition()), steps)
        for step in steps:
            tries = self.attempts.setdefault(step.key, [])
            tries.append(Attempt(len(tries) + 1, LAUNCHED, None, "", None))
        self._save_attempts()
        for step in self._launched(steps, store_uri):  # events in plan order, from this thread
            self.on_event("launched", step, f"attempt {len(self.attempts[step.key])}")

    def _launched(self, steps: list[Step], store_uri: str) -> Iterator[Step]:
        """Launch each step, up to the backend's concurrency at once (a serial create is bound
        by one API round trip a step); yields each step in order as its launch returns."""
        def launch(step: Step) -> Step:
            self.backend.launch(step, store_uri=store_uri, attempt=len(self.attempts[step.key]))
            return step

        width = min(self.backend.launch_concurrency, len(steps))
        if width <= 1:
            yield from map(launch, steps)
            return
        with ThreadPoolExecutor(width, thread_name_prefix="launch") as pool:
            yield from pool.map(launch, steps)

    def run(self, store_uri: str, *, poll_s: float = 0.5,
            on_pass: Callable[[RunStatus], None] | None = None) -> RunStatus:
        """Reconcile until nothing is running or launchable."""
        while True:
            status = self.reconcile(store_uri)
            if on_pass:
                on_pass(status)
            if status.finished:
                return status
            if not status.launch_cut_short:
                time.sleep(poll_s)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"
