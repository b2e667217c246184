"""The evaluate step on open_qa: questions wrapped in the fine-tuning template, answers cut and
kept for the judges, no record of their own. A fake engine stands in for the model."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from nativejobs.benchmarks import open_qa
from nativejobs.steps._context import StepContext
from nativejobs.steps.evaluate import EvaluateStep
from nativejobs.store import FileStore, step_dir
from nativejobs.training.data import ALPACA


class FakeEngine:
    batch_size = 8

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def chat_prompt(self, message: str) -> str:
        return f"<|user|>{message}<|assistant|>"

    def with_bos(self, text: str) -> str:
        return "<s>" + text

    def generate(self, prompts: list[str], *, max_new_tokens: int, stop: tuple[str, ...] = (),
                 temperature: float = 0.0, seed: int = 0) -> list[str]:
        self.calls.append({"prompts": prompts, "max_new_tokens": max_new_tokens, "stop": stop,
                           "temperature": temperature})
        return [f" Answer {i}.\n### Instruction:\nnext" for i in range(len(prompts))]


@pytest.mark.parametrize(("template", "wrap"), [
    pytest.param("alpaca", lambda q: "<s>" + ALPACA.format(instruction=q), id="alpaca"),
    pytest.param("chat", lambda q: f"<|user|>{q}<|assistant|>", id="chat"),
])
def test_open_qa_is_answered_in_the_training_template(tmp_path: Path, template: str, wrap: Any) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"id": "a", "prompt": "¿Qué es DEP?"}\n{"id": "b", "prompt": "Hola"}\n')
    bench = {"name": "oqa", "kind": "open_qa", "path": str(questions), "shots": 0, "limit": None,
             "max_new_tokens": 16, "template": template}
    store = FileStore(tmp_path / "store")
    ctx = StepContext(store, "evaluate", "ev", {"model": {"id": "m"}, "language": "es",
                                                "benchmarks": [bench]}, {}, {}, tmp_path,
                      logging.LoggerAdapter(logging.getLogger("test"), {}))
    step = EvaluateStep(ctx)
    step.items = {"oqa": open_qa.load(path=str(questions), language="es", shots=0, limit=None)}
    step.engine = FakeEngine()

    metrics = step.run()

    (call,) = step.engine.calls
    assert call["prompts"] == [wrap("¿Qué es DEP?"), wrap("Hola")]
    assert (call["max_new_tokens"], call["stop"], call["temperature"]) == (16, ("\n### ",), 0.0)
    assert store.get_jsonl(f"{step_dir('evaluate', 'ev')}/predictions/oqa.jsonl") == [
        {"id": "a", "question": "¿Qué es DEP?", "prediction": "Answer 0."},
        {"id": "b", "question": "Hola", "prediction": "Answer 1."}]
    assert store.get_json(f"{step_dir('evaluate', 'ev')}/records.json") == [] and metrics == {"records": 0}
