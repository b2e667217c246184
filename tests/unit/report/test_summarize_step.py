"""The summarize step on a file store holding hand-made evaluate outputs (no model run), and
``run_results`` for a finished run and for one that failed part-way."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from nativejobs.errors import StepInputError, StoreNotFoundError
from nativejobs.plan import Plan, Step
from nativejobs.report import run_results
from nativejobs.steps._context import StepContext
from nativejobs.steps.summarize import SummarizeStep
from nativejobs.store import FileStore, step_dir
from nativejobs.versions import STEP_VERSIONS
from tests.unit.report.builders import study_plan, write_evaluation


def context(store: FileStore, step: Step, tmp_path: Path) -> StepContext:
    return StepContext(store, step.kind, step.key, step.params, step.labels,
                       {i.name: vars(i) for i in step.inputs}, tmp_path / "work",
                       logging.LoggerAdapter(logging.getLogger("test"), {}))


def run_record(plan: Plan) -> dict[str, Any]:
    return {"name": plan.name, "summary": plan.summary.ref,
            "spec": {"conditions": [{"name": c, "kind": k}
                                    for c, k in plan.summary.params["conditions"].items()]},
            "steps": [{"kind": s.kind, "key": s.key, "labels": s.labels} for s in plan.steps]}


@pytest.fixture
def finished(tmp_path: Path) -> tuple[FileStore, Plan, dict[str, Any]]:
    store, plan = FileStore(tmp_path / "store"), study_plan()
    for ev in (s for s in plan.steps if s.kind == "evaluate"):
        write_evaluation(store, ev)
    step = SummarizeStep(context(store, plan.summary, tmp_path))
    step.setup()
    metrics = step.run()
    store.put_marker("summarize", plan.summary.key, {"metrics": metrics})
    return store, plan, metrics


def test_summarize_writes_every_output(finished: tuple[FileStore, Plan, dict[str, Any]]) -> None:
    store, plan, metrics = finished
    prefix = step_dir("summarize", plan.summary.key)

    names = {p.removeprefix(prefix + "/") for p in store.list(prefix)}

    assert STEP_VERSIONS["summarize"] == 3
    assert {"results.json", "results.csv", "gaps.json", "analysis.json", "results.md",
            "report.html", "plots/scores.svg", "plots/delta_by_model.svg",
            "plots/delta_vs_native.svg", "plots/round_trip.svg"} <= names
    # es and zh (MC) are clear gaps in both metrics; ru (NOISY) is inside the noise.
    assert metrics == {"records": 24, "cells": 12, "gaps": 6, "significant_gaps": 4}


def test_summarize_analysis_has_cis_from_the_predictions(
        finished: tuple[FileStore, Plan, dict[str, Any]]) -> None:
    store, plan, _ = finished
    prefix = step_dir("summarize", plan.summary.key)

    analysis = store.get_json(f"{prefix}/analysis.json")

    gaps = {(g["language"], g["metric"]): g for g in analysis["gaps"]}
    es = gaps["es", "exact_match"]
    assert es["delta"] == pytest.approx(0.3) and es["paired"]["n_items"] == 30
    assert es["paired"]["inside_noise"] is False and len(es["paired"]["mcnemar"]) == 2
    assert gaps["ru", "exact_match"]["paired"]["inside_noise"] is True
    assert gaps["es", "f1"]["paired"]["mcnemar"] == []  # 0/0.9 values are not 0/1 outcomes
    (corr,) = [c for c in analysis["correlations"] if c["metric"] == "exact_match"]
    assert corr["n"] == 3 and corr["points"][0]["model"] == "m1"
    assert {c["state"] for c in analysis["completeness"]} == {"done"}
    assert store.get_json(f"{prefix}/gaps.json") == analysis["gaps"]


def test_run_results_of_a_finished_run(finished: tuple[FileStore, Plan, dict[str, Any]]) -> None:
    store, plan, _ = finished
    prefix = step_dir("summarize", plan.summary.key)
    run = run_record(plan)

    assert run_results(store, run, "md") == store.get_text(f"{prefix}/results.md")
    assert run_results(store, run, "html") == store.get_text(f"{prefix}/report.html")
    records = json.loads(run_results(store, run, "json"))
    assert len(records) == 24 and {r["condition"] for r in records} == {"native", "cohere",
                                                                        "google", "rtt"}
    assert run_results(store, run, "csv").splitlines()[0].startswith("arm,")


def test_run_results_of_a_run_that_failed_part_way(tmp_path: Path) -> None:
    store, plan = FileStore(tmp_path / "store"), study_plan()
    evaluations = [s for s in plan.steps if s.kind == "evaluate"]
    for ev in evaluations:
        if ev.labels["language"] != "zh":
            write_evaluation(store, ev)
    train = next(s for s in plan.steps if s.kind == "train" and s.labels["language"] == "zh"
                 and s.labels["condition"] == "cohere")
    attempts = {train.key: [{"number": 1, "outcome": "bad_input", "exit_code": 3, "reason": "",
                             "finished_at": 0.0}]}

    text = run_results(store, run_record(plan), "md", attempts=attempts)

    assert text.startswith("# tiny: incomplete run (12 cells: 8 done, 1 failed, 3 not run)")
    assert "| m1 | zh | cohere | a1 | failed | train |" in text
    assert "bad_input after 1 attempt(s), exit code 3" in text
    assert "| m1 | zh | native | a1 | not run | prepare |" in text  # nothing upstream is done
    assert "| m1 | a1 | es | qa | exact_match | 0.800 | cohere, google | 0.500 | +0.300 |" in text


def test_missing_predictions_are_bad_input(tmp_path: Path) -> None:
    store, plan = FileStore(tmp_path / "store"), study_plan()
    for ev in (s for s in plan.steps if s.kind == "evaluate"):
        write_evaluation(store, ev)
        store.delete(f"{step_dir('evaluate', ev.key)}/predictions/qa.jsonl")

    with pytest.raises(StepInputError, match="predictions are missing"):
        SummarizeStep(context(store, plan.summary, tmp_path)).setup()


def test_run_results_before_anything_is_done(tmp_path: Path) -> None:
    store, plan = FileStore(tmp_path / "store"), study_plan()

    text = run_results(store, run_record(plan), "md")

    assert text.startswith("# tiny: incomplete run (12 cells: 12 not run)")
    assert "| m1 | es | native | a1 | not run | prepare |" in text
    assert run_results(store, run_record(plan), "json") == "[]\n"


def test_run_results_of_an_older_summary_says_to_resubmit(tmp_path: Path) -> None:
    store, plan = FileStore(tmp_path / "store"), study_plan()
    store.put_json(f"{step_dir('summarize', plan.summary.key)}/results.json", [])
    store.put_marker("summarize", plan.summary.key, {})  # done, but without report.html

    with pytest.raises(StoreNotFoundError, match=r"summarized without report\.html \(an older"):
        run_results(store, run_record(plan), "html")
    assert run_results(store, run_record(plan), "json") == "[]\n"


def test_unknown_reference_condition_fails_before_any_work(tmp_path: Path) -> None:
    plan = study_plan()
    step = plan.summary
    bad = Step(step.kind, step.key, {**step.params, "reference": ["deepl"]}, step.inputs, step.labels)

    with pytest.raises(StepInputError, match="summarize params: reference conditions deepl are not"):
        SummarizeStep(context(FileStore(tmp_path / "store"), bad, tmp_path))


def test_run_results_analysis_json_of_a_finished_run(
        finished: tuple[FileStore, Plan, dict[str, Any]]) -> None:
    store, plan, _ = finished

    text = run_results(store, run_record(plan), "json", what="analysis")

    assert text == store.get_text(f"{step_dir('summarize', plan.summary.key)}/analysis.json")
    assert json.loads(text)["format_version"] == 2


def test_an_unfinished_run_pairs_round_trips_by_the_specs_engine(tmp_path: Path) -> None:
    store, plan = FileStore(tmp_path / "store"), study_plan()
    for ev in (s for s in plan.steps if s.kind == "evaluate" and s.labels["language"] == "es"):
        write_evaluation(store, ev)
    run = {**run_record(plan), "spec": {"conditions": [
        {"name": "native", "kind": "native"}, {"name": "cohere", "kind": "translated", "engine": "eng"},
        {"name": "google", "kind": "translated", "engine": "eng2"},
        {"name": "rtt", "kind": "round_trip", "engine": "eng"}]}}

    doc = json.loads(run_results(store, run, "json", what="analysis"))

    assert doc["pairs"] == {"rtt": "cohere"}
    (trip,) = [t for t in doc["round_trip"] if t["metric"] == "exact_match"]
    # MC table: rtt 0.5 against cohere 0.4 (not the mean of cohere and google, 0.5).
    assert trip["single_pass_conditions"] == ["cohere"] and trip["delta"] == pytest.approx(0.1)
