"""The judge step on a file store with a scripted judge: outputs, retries, the verdict cache."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from nativejobs.errors import StepInputError
from nativejobs.judge import PROMPT_VERSION, JudgeConfig
from nativejobs.steps._context import StepContext
from nativejobs.steps.judge import JudgeStep
from nativejobs.store import FileStore, step_dir
from tests.unit.judge.helpers import ScriptedJudge, by_answer

ANSWERS = {
    "oqa": [{"id": "a", "question": "Q a", "prediction": "answer A"},
            {"id": "b", "question": "Q b", "prediction": "answer B"},
            {"id": "c", "question": "Q c", "prediction": "answer C"}],
    "oqn": [{"id": "n", "question": "Q n", "prediction": "answer N"}],
}
SCRIPT = {"answer A": ["Good. [[5]]"], "answer B": ["Hmm.", "[[2]]"],
          "answer C": ["?", "?", "?"], "answer N": ["Fine. Rating: [[4.0]]"]}
JUDGE = {"kind": "openai", "model": "m", "base_url": "http://judge.invalid/v1", "batch_size": 2}


def params(**over: Any) -> dict[str, Any]:
    return {"name": "gpt4", "judge": JUDGE, "prompt_version": PROMPT_VERSION, "language": "es",
            "benchmarks": ["oqa", "oqn"], **over}


def make_step(store: FileStore, tmp_path: Path, key: str, loads: list[ScriptedJudge],
              **over: Any) -> JudgeStep:
    inputs = {f"answers_{b}": {"kind": "evaluate", "key": "ev", "artifact": f"predictions/{b}.jsonl"}
              for b in ANSWERS}
    ctx = StepContext(store, "judge", key, params(**over), {"language": "es"}, inputs, tmp_path,
                      logging.LoggerAdapter(logging.getLogger("test.judge"), {}))

    def load(cfg: JudgeConfig, name: str) -> ScriptedJudge:
        assert name == "gpt4" and cfg.tries == 3
        loads.append(ScriptedJudge(by_answer(SCRIPT)))
        return loads[-1]

    return JudgeStep(ctx, load=load)


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    store = FileStore(tmp_path / "store")
    for bench, rows in ANSWERS.items():
        store.put_jsonl(f"steps/evaluate/ev/predictions/{bench}.jsonl", rows)
    return store


def run(step: JudgeStep) -> dict[str, Any]:
    step.setup()
    metrics = step.run()
    step.cleanup()
    return metrics


def test_judge_step_writes_records_items_and_stats(store: FileStore, tmp_path: Path) -> None:
    loads: list[ScriptedJudge] = []

    metrics = run(make_step(store, tmp_path, "k1", loads))

    out = step_dir("judge", "k1")
    records = {(r["benchmark"], r["metric"]): r for r in store.get_json(f"{out}/records.json")}
    total = records["oqa", "judge_gpt4_total"]
    assert (total["score"], total["n"], total["questions"], total["unparsable"]) == (10.5, 2, 3, 1)
    assert records["oqa", "judge_gpt4_mean"]["score"] == 3.5
    assert records["oqn", "judge_gpt4_total"]["score"] == 4
    items = {r["id"]: r for r in store.get_jsonl(f"{out}/items/oqa.jsonl")}
    assert (items["b"]["rating"], items["b"]["attempts"]) == (2, 2)
    assert (items["c"]["status"], items["c"]["verdicts"]) == ("unparsable", ["?", "?", "?"])
    assert items["a"]["answer"] == "answer A" and items["a"]["question"] == "Q a"
    assert metrics == {"records": 4, "judge_calls": 1 + 2 + 3 + 1, "unparsable": 1}
    stats = store.get_json(f"{out}/stats.json")
    assert stats["benchmarks"]["oqa"] | {"total": 0} == {
        "questions": 3, "rated": 2, "unparsable": 1, "cached": 0, "retried": 2, "total": 0,
        "mean": 3.5}
    # oqa: [a, b] then b again; [c] three times; oqn: [n]. At most batch_size per call.
    assert loads[0].closed and loads[0].batches == [2, 1, 1, 1, 1, 1]


def test_a_rerun_takes_every_verdict_from_the_cache(store: FileStore, tmp_path: Path) -> None:
    loads: list[ScriptedJudge] = []
    run(make_step(store, tmp_path, "k1", loads))

    metrics = run(make_step(store, tmp_path, "k2", loads))

    assert len(loads) == 1  # the judge was not even built the second time
    assert metrics["judge_calls"] == 0
    assert (store.get_json(f"{step_dir('judge', 'k2')}/records.json")
            == store.get_json(f"{step_dir('judge', 'k1')}/records.json"))
    assert store.get_json(f"{step_dir('judge', 'k2')}/stats.json")["benchmarks"]["oqa"]["cached"] == 3


def test_a_moved_server_reuses_the_cache_but_another_model_does_not(store: FileStore,
                                                                  tmp_path: Path) -> None:
    loads: list[ScriptedJudge] = []
    run(make_step(store, tmp_path, "k1", loads))

    moved = run(make_step(store, tmp_path, "k2", loads, judge={**JUDGE, "base_url": "http://x/v1"}))
    other = run(make_step(store, tmp_path, "k3", loads, judge={**JUDGE, "model": "other"}))

    assert moved["judge_calls"] == 0 and other["judge_calls"] == 7


def test_bad_inputs_are_step_input_errors(store: FileStore, tmp_path: Path) -> None:
    with pytest.raises(StepInputError, match="prompt version 0"):
        make_step(store, tmp_path, "k", [], prompt_version=0)
    with pytest.raises(StepInputError, match="no answers input for xqa"):
        make_step(store, tmp_path, "k", [], benchmarks=["oqa", "xqa"])
    store.put_jsonl("steps/evaluate/ev/predictions/oqn.jsonl", [{"id": "n", "prediction": "x"}])
    with pytest.raises(StepInputError, match="lack id, question or prediction"):
        make_step(store, tmp_path, "k", []).setup()
