"""evaluate: one fine-tuned model on every benchmark of its language, with one model load.

Inputs: ``adapter`` (PEFT adapter folder).
Outputs: ``records.json`` (one flat row per benchmark and metric: benchmark, metric, score, n,
language), ``predictions/<benchmark>.jsonl`` (per-item prompt, prediction, golds, metrics).

``open_qa`` benchmarks are answered greedily in the template the model was fine-tuned with
(``template``: Alpaca or chat) and give no record here: their predictions (id, question,
answer) are what the judge steps rate.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from nativejobs.steps._context import StepContext
from nativejobs.training.data import alpaca_prompt

KIND = "evaluate"
VERSION = 1


class Benchmark(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    kind: Literal["extractive_qa", "math_cot", "multiple_choice", "open_qa"]
    path: str
    dev_path: str | None = None
    shots: int
    limit: int | None = None
    max_new_tokens: int | None = None
    template: Literal["alpaca", "chat"] | None = None  # open_qa: the fine-tuning prompt template


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    revision: str | None = None


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: Model
    language: str
    benchmarks: list[Benchmark]


class EvaluateStep:
    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        self.p = Params.model_validate(ctx.params)

    def setup(self) -> None:
        from nativejobs.benchmarks import load_items

        lang = self.p.language
        # Load every benchmark before the model: a bad file fails in seconds, not after loading.
        self.items = {
            b.name: load_items(b.kind, path=b.path.replace("{lang}", lang), language=lang,
                               shots=b.shots, limit=b.limit,
                               dev_path=b.dev_path.replace("{lang}", lang) if b.dev_path else None)
            for b in self.p.benchmarks
        }
        from nativejobs.engines import load_engine

        adapter = self.ctx.download_input("adapter")
        self.engine = load_engine(self.p.model.id, revision=self.p.model.revision, adapter=adapter)

    def _score(self, bench: Benchmark) -> Any:
        from nativejobs.benchmarks import score_choices, score_generations

        items = self.items[bench.name]
        if bench.kind == "multiple_choice":
            pairs = [(it.context, c) for it in items for c in it.choices]
            lls = self.engine.loglikelihood(pairs)
            grouped, at = [], 0
            for it in items:
                grouped.append(lls[at : at + len(it.choices)])
                at += len(it.choices)
            return score_choices(items, grouped)
        outputs: list[str] = []
        size = self.engine.batch_size
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        # Items of one benchmark share max_new_tokens and stop sequences, so a chunk is one batch.
        for chunk in self.ctx.progress(chunks, total=len(chunks), what=f"{bench.name} batches"):
            outputs += self.engine.generate([self._prompt(bench, it.prompt) for it in chunk],
                                            max_new_tokens=bench.max_new_tokens or chunk[0].max_new_tokens,
                                            stop=chunk[0].stop)
        return score_generations(bench.kind, items, outputs)

    def _prompt(self, bench: Benchmark, text: str) -> str:
        """The prompt as the model sees it: open_qa questions in the fine-tuning template (as
        the train step encoded a row without input), other benchmarks' prompts as built."""
        if bench.kind != "open_qa":
            return text
        if bench.template == "chat":
            return self.engine.chat_prompt(text)
        return self.engine.with_bos(alpaca_prompt({"instruction": text}))

    def run(self) -> dict[str, Any]:
        records: list[dict[str, Any]] = []
        for bench in self.p.benchmarks:
            scored = self._score(bench)
            self.ctx.store.put_jsonl(self.ctx.out(f"predictions/{bench.name}.jsonl"), scored.records)
            for metric, score in sorted(scored.metrics.items()):
                records.append({"benchmark": bench.name, "kind": bench.kind, "metric": metric,
                                "score": score, "n": scored.n, "language": self.p.language,
                                "shots": bench.shots})
            self.ctx.log.info("%s: %s (n=%d)", bench.name,
                              ", ".join(f"{m}={s:.3f}" for m, s in sorted(scored.metrics.items()))
                              or "answers kept for the judge steps", scored.n)
        self.ctx.store.put_json(self.ctx.out("records.json"), records)
        return {"records": len(records)}

    def cleanup(self) -> None:
        self.engine = None


STEP = EvaluateStep
