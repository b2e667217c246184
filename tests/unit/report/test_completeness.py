"""Completeness: every cell of a partial grid is done, failed (which step, why) or not run."""

from __future__ import annotations

from typing import Any

import pytest

from nativejobs.plan import Plan
from nativejobs.report import (
    Cell,
    cell_chains,
    completeness,
    completeness_table,
    failures_from_attempts,
    record_completeness,
    summary_line,
)
from tests.unit.builders import condition, make_plan, record, steps_where


def plan() -> Plan:
    return make_plan(conditions=[condition("native"), condition("translated", "translated"),
                                 condition("rtt", "round_trip")])


def run_steps(p: Plan, *, with_inputs: bool) -> list[dict[str, Any]]:
    """The run record's step list (``runs/<name>/run.json``), with or without input keys."""
    return [{"kind": s.kind, "key": s.key, "labels": s.labels,
             **({"inputs": [i.key for i in s.inputs]} if with_inputs else {})} for s in p.steps]


def chain_kinds(cell: Cell) -> list[str]:
    return [kind for kind, _ in cell.chain]


def test_exact_chains_follow_inputs() -> None:
    cells = {c.condition: c for c in cell_chains(run_steps(plan(), with_inputs=True))}

    assert sorted(cells) == ["native", "rtt", "translated"]
    assert chain_kinds(cells["native"]) == ["prepare", "train", "evaluate"]
    assert chain_kinds(cells["translated"]) == ["prepare", "prepare", "translate", "train", "evaluate"]
    assert chain_kinds(cells["rtt"]) == ["prepare", "translate", "translate", "train", "evaluate"]
    ev = steps_where(plan(), "evaluate", condition="rtt")[0]
    assert cells["rtt"].evaluate_key == ev.key
    assert (cells["rtt"].model, cells["rtt"].language, cells["rtt"].arm) == ("m1", "es", "a1")


def test_chains_by_labels_without_inputs() -> None:
    exact = {c.condition: c.chain for c in cell_chains(run_steps(plan(), with_inputs=True))}

    by_labels = {c.condition: c.chain for c in cell_chains(run_steps(plan(), with_inputs=False))}

    assert by_labels["translated"] == exact["translated"]
    english = steps_where(plan(), "prepare", what="English sample")[0].key
    for cond in ("native", "rtt"):  # labels cannot tell that the English sample feeds only
        assert set(by_labels[cond]) == {*exact[cond], ("prepare", english)}  # translated cells


def test_done_failed_and_not_run() -> None:
    p = plan()
    cells = {c.condition: c for c in cell_chains(run_steps(p, with_inputs=True))}
    translate = steps_where(p, "translate", condition="translated")[0]
    done = {k for _, k in cells["native"].chain} | {s.key for s in steps_where(p, "prepare")}

    rows = {r.condition: r for r in completeness(list(cells.values()), done,
                                                 {translate.key: "bad_input after 1 attempt(s)"})}

    assert rows["native"].state == "done" and rows["native"].steps_done == 3
    failed = rows["translated"]
    assert (failed.state, failed.step, failed.key, failed.reason) == (
        "failed", "translate", translate.key, "bad_input after 1 attempt(s)")
    assert (failed.steps_done, failed.steps_total) == (2, 5)
    waiting = rows["rtt"]
    assert (waiting.state, waiting.step, waiting.reason) == ("not run", "translate", "")
    assert summary_line(list(rows.values())) == "3 cells: 1 done, 1 failed, 1 not run"


def test_a_failed_upstream_step_fails_every_cell_it_feeds() -> None:
    p = make_plan(arms=[{"name": "a1", "lr": 1e-4}, {"name": "a2", "lr": 1e-6}])
    cells = cell_chains(run_steps(p, with_inputs=True))
    prepare = steps_where(p, "prepare", what="native sample")[0]

    rows = completeness(cells, set(), {prepare.key: "retry after 2 attempt(s), exit code 1"})

    assert len(rows) == 4 and {(r.state, r.step) for r in rows} == {("failed", "prepare")}


def test_failures_from_attempts() -> None:
    attempts = {
        "k1": [{"number": 1, "outcome": "retry", "exit_code": 1, "reason": ""},
               {"number": 2, "outcome": "bad_input", "exit_code": 3, "reason": ""}],
        "k2": [{"number": 1, "outcome": "retry_free", "exit_code": 137, "reason": "Evicted"}],
        "k3": [{"number": 1, "outcome": "retry", "exit_code": 1, "reason": ""}],  # later done
        "k4": [{"number": 1, "outcome": "done", "exit_code": 0, "reason": ""}],
        "k5": [],
    }

    assert failures_from_attempts(attempts, done_keys={"k3"}) == {
        "k1": "bad_input after 2 attempt(s), exit code 3",
        "k2": "retry_free after 1 attempt(s), exit code 137, Evicted",
    }


def test_table_puts_holes_first() -> None:
    cells = [Cell("m1", "es", c, "a1", chain=(("evaluate", f"key-{c}"),)) for c in ("a", "b", "c")]

    rows = completeness(cells, {"key-a"}, {"key-c": "boom"})

    table = completeness_table(rows)
    assert table.headers[:5] == ("model", "language", "condition", "arm", "state")
    assert [(r[2], r[4]) for r in table.rows] == [("c", "failed"), ("b", "not run"), ("a", "done")]
    assert table.rows[0][-1] == "boom"


# -- completeness of imported records ------------------------------------------------------------
@pytest.mark.parametrize(("records", "expected"), [
    pytest.param([record("native", 0.5), record("google", 0.4)],
                 {("native", "es"): "done", ("google", "es"): "done"}, id="full"),
    pytest.param([record("native", 0.5), record("google", 0.4), record("native", 0.5, benchmark="mc"),
                  record("native", 0.3, language="ru")],
                 {("native", "es"): "done", ("google", "es"): "partial",
                  ("native", "ru"): "done", ("google", "ru"): "missing"}, id="holes"),
])
def test_record_completeness_over_the_records_grid(records: list[dict[str, Any]],
                                                   expected: dict[tuple[str, str], str]) -> None:
    rows = record_completeness(records)

    assert {(r.condition, r.language): r.state for r in rows} == expected
    partial = [r for r in rows if r.state == "partial"]
    assert all(r.reason == "no records for mc" for r in partial)
