"""Completeness of a grid: which cells are done, which failed (at which step, why), which have not
run yet; so a partial run shows its holes instead of silently dropping cells.

A cell is one model × language × condition × arm: the chain of steps that ends in its evaluate
step. Pure functions over the run record's step list, the done keys and the failures. Only the
cells a run planned are judged, so what its spec never asked for (an arm that leaves out the
round trips) is no hole.

Records alone (imported, or a run's beside them) carry no design: ``record_coverage`` says
compactly which conditions each benchmark × arm has, and for how many (model, language) points,
rather than calling every absent combination missing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nativejobs.report._tables import Record, Table

__all__ = ["Cell", "CellStatus", "Coverage", "cell_chains", "completeness", "completeness_table",
           "coverage_table", "failures_from_attempts", "record_coverage", "summary_line"]

CELL_LABELS = ("model", "language", "condition", "arm")
_STATES = ("done", "failed", "not run")
_ORDER = {"prepare": 0, "translate": 1, "train": 2, "evaluate": 3}


@dataclass(frozen=True)
class Cell:
    """One grid cell and the steps it needs, in dependency order (its evaluate step last)."""

    model: str
    language: str
    condition: str
    arm: str
    chain: tuple[tuple[str, str], ...]  # (kind, key)

    @property
    def evaluate_key(self) -> str:
        return self.chain[-1][1]


@dataclass(frozen=True)
class CellStatus:
    """Where one cell stands.

    Attributes:
        state: ``done``, ``failed`` or ``not run``.
        step: The failed step's kind, or the next step to run; empty when done.
        key: That step's key.
        reason: Why it failed, or what is missing.
        steps_done: Steps of the chain that are done.
        steps_total: Steps in the chain.
    """

    model: str
    language: str
    condition: str
    arm: str
    state: str
    step: str = ""
    key: str = ""
    reason: str = ""
    steps_done: int = 0
    steps_total: int = 0


def cell_chains(steps: Sequence[Mapping[str, Any]]) -> list[Cell]:
    """The grid cells of a run record's ``steps`` (``[{kind, key, labels, inputs?}]``).

    When every step lists its ``inputs`` (upstream step keys) the chain is exact; otherwise a
    step belongs to a cell when its labels agree with the cell's on every label it has
    (prepare: language; translate: language, condition; train: all four), which can also
    count a language's shared steps (the English sample) for its native cells.
    """
    by_key = {s["key"]: s for s in steps}
    exact = all("inputs" in s for s in steps)
    cells = []
    for ev in (s for s in steps if s["kind"] == "evaluate"):
        labels = ev["labels"]
        keys = _upstream(ev["key"], by_key) if exact else {
            s["key"] for s in steps if s["kind"] in _ORDER and s["kind"] != "evaluate"
            and all(s["labels"].get(k, labels[k]) == labels[k] for k in CELL_LABELS)}
        chain = sorted((s for s in steps if s["key"] in keys), key=lambda s: _ORDER.get(s["kind"], 9))
        cells.append(Cell(*(labels[k] for k in CELL_LABELS),
                          chain=(*((s["kind"], s["key"]) for s in chain if s["key"] != ev["key"]),
                                 ("evaluate", ev["key"]))))
    return cells


def _upstream(key: str, by_key: Mapping[str, Mapping[str, Any]]) -> set[str]:
    seen, todo = set(), [key]
    while todo:
        k = todo.pop()
        if k not in seen and k in by_key:
            seen.add(k)
            todo += list(by_key[k].get("inputs", ()))
    return seen


def failures_from_attempts(attempts: Mapping[str, Sequence[Mapping[str, Any]]],
                           done_keys: Collection[str]) -> dict[str, str]:
    """Step key → why it failed, from ``runs/<name>/attempts.json``, for steps not done."""
    out = {}
    for key, tries in attempts.items():
        if key in done_keys or not tries or tries[-1].get("outcome") in ("done", "launched", "lost"):
            continue
        last = tries[-1]
        detail = f", {last['reason']}" if last.get("reason") else ""
        out[key] = (f"{last.get('outcome', 'failed')} after {len(tries)} attempt(s), "
                    f"exit code {last.get('exit_code')}{detail}")
    return out


def completeness(cells: Sequence[Cell], done_keys: Collection[str],
                 failures: Mapping[str, str]) -> list[CellStatus]:
    """Each cell's state: done (its evaluate step is), failed (the first failed step of its
    chain, with the reason; later steps are blocked by it), or not run (with the next step)."""
    out = []
    for cell in cells:
        labels = (cell.model, cell.language, cell.condition, cell.arm)
        n_done = sum(key in done_keys for _, key in cell.chain)
        common = {"steps_done": n_done, "steps_total": len(cell.chain)}
        if cell.evaluate_key in done_keys:
            out.append(CellStatus(*labels, state="done", **common))
            continue
        failed = [(kind, key) for kind, key in cell.chain if key in failures]
        if failed:
            kind, key = failed[0]
            out.append(CellStatus(*labels, state="failed", step=kind, key=key,
                                  reason=failures[key], **common))
            continue
        kind, key = next((k, key) for k, key in cell.chain if key not in done_keys)
        out.append(CellStatus(*labels, state="not run", step=kind, key=key, **common))
    return out


@dataclass(frozen=True)
class Coverage:
    """Which conditions one benchmark × arm of a record set has.

    Attributes:
        points: (model, language) points with a record of any condition.
        conditions: Condition → how many of those points it has a record for.
    """

    benchmark: str
    arm: str
    languages: tuple[str, ...]
    models: int
    points: int
    conditions: dict[str, int]


def record_coverage(records: Sequence[Record], kinds: Mapping[str, str]) -> list[Coverage]:
    """Per benchmark × arm (in the records' order): its languages, models and points, and how
    many points each condition covers (conditions in ``kinds`` order)."""
    seen: dict[tuple[str, str], dict[str, set[tuple[str, str]]]] = {}
    for r in records:
        by_condition = seen.setdefault((r["benchmark"], r["arm"]), {})
        by_condition.setdefault(r["condition"], set()).add((r["model"], r["language"]))
    out = []
    for (bench, arm), by_condition in seen.items():
        points = set().union(*by_condition.values())
        order = [c for c in kinds if c in by_condition] + sorted(set(by_condition) - set(kinds))
        out.append(Coverage(bench, arm, tuple(sorted({lang for _, lang in points})),
                            len({m for m, _ in points}), len(points),
                            {c: len(by_condition[c]) for c in order}))
    return out


def coverage_table(rows: Sequence[Coverage]) -> Table:
    """One row per benchmark × arm: ``native 24/24, google 24/24, google-rtt 16/24``."""
    body = tuple((c.benchmark, c.arm, ", ".join(c.languages), str(c.models),
                  ", ".join(f"{name} {n}/{c.points}" for name, n in c.conditions.items()))
                 for c in rows)
    return Table(("benchmark", "arm", "languages", "models", "conditions (points present)"), body)


def summary_line(rows: Sequence[CellStatus]) -> str:
    """``12 cells: 10 done, 1 failed, 1 not run`` (states in a fixed order)."""
    counts = Counter(row.state for row in rows)
    order = [*_STATES, *sorted(set(counts) - set(_STATES))]
    parts = ", ".join(f"{counts[state]} {state}" for state in order if counts[state])
    return f"{len(rows)} cells: {parts}" if rows else "0 cells"


def completeness_table(rows: Sequence[CellStatus]) -> Table:
    """Completeness rows as a table (failed and unfinished cells first)."""
    rank = {"failed": 0, "not run": 1, "done": 2}
    ordered = sorted(rows, key=lambda r: rank.get(r.state, 9))
    body = tuple((r.model, r.language, r.condition, r.arm, r.state, r.step, r.key[:12],
                  f"{r.steps_done}/{r.steps_total}", r.reason) for r in ordered)
    return Table(("model", "language", "condition", "arm", "state", "step", "key", "progress",
                  "reason"), body)
