"""Completeness: every cell of a partial grid is done, failed (which step, why) or not run."""

from __future__ import annotations

from typing import Any

from nativejobs.plan import Plan
from nativejobs.report import (
    Cell,
    cell_chains,
    completeness,
    completeness_table,
    coverage_table,
    failures_from_attempts,
    record_coverage,
    summary_line,
)
from tests.unit.builders import condition, make_plan, record, steps_where
from tests.unit.report.builders import KINDS


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


def test_a_run_judges_only_the_cells_its_spec_asked_for() -> None:
    # The paper's regularisation arm leaves out the round trips: no rtt cell there, no hole.
    arms = [{"name": "a1", "lr": 1e-4},
            {"name": "a2", "lr": 1e-6, "conditions": ["native", "translated"]}]
    p = make_plan(arms=arms, conditions=[condition("native"), condition("translated", "translated"),
                                         condition("rtt", "round_trip")])
    cells = cell_chains(run_steps(p, with_inputs=True))

    rows = completeness(cells, {c.evaluate_key for c in cells}, {})

    assert sorted((r.arm, r.condition) for r in rows) == [
        ("a1", "native"), ("a1", "rtt"), ("a1", "translated"), ("a2", "native"),
        ("a2", "translated")]
    assert summary_line(rows) == "5 cells: 5 done"


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


# -- coverage of records alone (imported) ---------------------------------------------------------
def paper_like_records() -> list[dict[str, Any]]:
    """Two models × es/ru; the round trip only at a1 and only for es; mc only in es."""
    out = []
    for model in ("m1", "m2"):
        for arm, conditions in (("a1", ("native", "google", "rtt")), ("a2", ("native", "google"))):
            for lang in ("es", "ru"):
                for cond in conditions:
                    if cond == "rtt" and lang == "ru":
                        continue
                    out.append(record(cond, 0.5, model=model, arm=arm, language=lang))
                    if lang == "es":
                        out.append(record(cond, 0.5, model=model, arm=arm, language=lang,
                                          benchmark="mc", metric="accuracy"))
    return out


def test_coverage_is_per_benchmark_and_arm_not_a_grid_of_missing_cells() -> None:
    rows = {(c.benchmark, c.arm): c for c in record_coverage(paper_like_records(), KINDS)}

    assert sorted(rows) == [("mc", "a1"), ("mc", "a2"), ("qa", "a1"), ("qa", "a2")]
    qa = rows["qa", "a1"]
    assert (qa.languages, qa.models, qa.points) == (("es", "ru"), 2, 4)
    assert qa.conditions == {"native": 4, "google": 4, "rtt": 2}  # kinds order, not record order
    assert rows["qa", "a2"].conditions == {"native": 4, "google": 4}  # no rtt asked: not a hole
    assert rows["mc", "a1"].conditions == {"native": 2, "google": 2, "rtt": 2}


def test_coverage_table_is_one_compact_row_per_benchmark_and_arm() -> None:
    table = coverage_table(record_coverage(paper_like_records(), KINDS))

    assert len(table.rows) == 4
    assert table.rows[0] == ("qa", "a1", "es, ru", "2", "native 4/4, google 4/4, rtt 2/4")
