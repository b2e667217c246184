"""evaluate: one fine-tuned model on every benchmark of its language, with one model load.

Inputs: ``adapter`` (PEFT adapter folder).
Outputs:
    ``records.json``           one flat row per benchmark and metric: benchmark, kind, metric,
                               score, n, language, shots; harness benchmarks add the lm-eval
                               version, task, task_version, subtasks, chat_template, source
    ``predictions/<name>.jsonl`` per item: id, prompt, prediction, golds, and its value of every
                               metric in the records (the report's paired statistics join on id)
    ``subtasks.json``          per-subject scores of grouped benchmarks (CMMLU, C-Eval, MMMLU)
    ``harness.json``           lm-eval's version, task versions, shots and full task configs
    ``tasks/*.yaml``           the generated lm-eval group configs that ran

Harness kinds (``nativejobs.benchmarks.catalog``) run through lm-evaluation-harness in one call
on the loaded model (``engine.harness_lm()``). ``open_qa`` runs on the engine directly: its
questions are answered greedily in the template the model was fine-tuned with (``template``:
Alpaca or chat) and give no record here: their predictions (id, question, answer) are what the
judge steps rate.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from nativejobs.benchmarks.catalog import HARNESS_KINDS
from nativejobs.steps._context import StepContext
from nativejobs.training.data import alpaca_prompt
from nativejobs.versions import STEP_VERSIONS

KIND = "evaluate"
VERSION = STEP_VERSIONS[KIND]  # kept in nativejobs/versions.py, which the planner reads


class Benchmark(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    kind: Literal["tydiqa", "cmmlu", "ceval", "xquad", "mgsm", "okapi_mmlu", "mmmlu", "open_qa"]
    path: str | None = None
    dev_path: str | None = None
    dataset: str | None = None
    revision: str | None = None
    shots: int
    limit: int | None = None
    max_new_tokens: int | None = None
    chat_template: bool = False
    template: Literal["alpaca", "chat"] | None = None  # open_qa: the fine-tuning prompt template
    harness: str | None = None  # harness kinds: the lm-eval version the key was planned with
    task_version: float | None = None  # the project's own lm-eval task's metadata.version


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    revision: str | None = None


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: Model
    language: str
    benchmarks: list[Benchmark]
    # auto: vLLM where it can serve (installed, CUDA), else transformers; recorded per record.
    backend: Literal["auto", "transformers", "vllm"] = "auto"
    batch_size: int = 8


class EvaluateStep:
    def __init__(self, ctx: StepContext) -> None:
        from nativejobs.benchmarks.harness import HarnessBenchmarkRun

        self.ctx = ctx
        self.p = Params.model_validate(ctx.params)
        self.harness_runs = [
            HarnessBenchmarkRun(name=b.name, kind=b.kind, language=self.p.language, shots=b.shots,
                                limit=b.limit, max_new_tokens=b.max_new_tokens,
                                chat_template=b.chat_template, path=b.path, dev_path=b.dev_path,
                                dataset=b.dataset, revision=b.revision)
            for b in self.p.benchmarks if b.kind in HARNESS_KINDS]

    def setup(self) -> None:
        from nativejobs.benchmarks import open_qa

        lang = self.p.language
        # Read every benchmark's files before the model: a bad file fails in seconds.
        self.items = {
            b.name: open_qa.load(path=(b.path or "").replace("{lang}", lang), language=lang,
                                 shots=b.shots, limit=b.limit)
            for b in self.p.benchmarks if b.kind == "open_qa"
        }
        if self.harness_runs:
            from nativejobs.benchmarks.harness import check_runs

            check_runs(self.harness_runs, self.ctx.workdir / "tasks")
        from nativejobs.engines import load_engine

        adapter = self.ctx.download_input("adapter")
        self.engine = load_engine(self.p.model.id, revision=self.p.model.revision, adapter=adapter,
                                  batch_size=self.p.batch_size, backend=self.p.backend)
        self.ctx.log.info("model loaded once for %d benchmarks (%s backend)",
                          len(self.p.benchmarks), self.engine.name)

    def _score(self, bench: Benchmark) -> Any:
        """An open_qa benchmark's answers (no metric: the judge steps rate them)."""
        from nativejobs.benchmarks import open_qa

        items = self.items[bench.name]
        outputs: list[str] = []
        size = self.engine.batch_size
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        # Items of one benchmark share max_new_tokens and stop sequences, so a chunk is one batch.
        for chunk in self.ctx.progress(chunks, total=len(chunks), what=f"{bench.name} batches"):
            outputs += self.engine.generate([self._prompt(bench, it.prompt) for it in chunk],
                                            max_new_tokens=bench.max_new_tokens or chunk[0].max_new_tokens,
                                            stop=chunk[0].stop)
        return open_qa.score(items, outputs)

    def _prompt(self, bench: Benchmark, text: str) -> str:
        """The prompt as the model sees it: the question in the fine-tuning template (as the
        train step encoded a row without input)."""
        if bench.template == "chat":
            return self.engine.chat_prompt(text)
        return self.engine.with_bos(alpaca_prompt({"instruction": text}))

    def _run_harness(self) -> dict[str, Any]:
        """Every harness benchmark in one lm-eval call; its metadata and configs stored."""
        from nativejobs.benchmarks.harness import harness_metadata_json, run_harness

        names = ", ".join(r.name for r in self.harness_runs)
        self.ctx.log.info("lm-evaluation-harness: %s", names)
        outcomes, meta = run_harness(self.engine.harness_lm(), self.harness_runs, self.ctx.workdir)
        meta["backend"] = self.engine.name
        for file in meta["task_files"].values():
            self.ctx.store.put_text(self.ctx.out(f"tasks/{file}"),
                                    (self.ctx.workdir / "tasks" / file).read_text(encoding="utf-8"))
        self.ctx.store.put_text(self.ctx.out("harness.json"), harness_metadata_json(meta))
        return outcomes

    def run(self) -> dict[str, Any]:
        records: list[dict[str, Any]] = []
        subtasks: list[dict[str, Any]] = []
        outcomes = self._run_harness() if self.harness_runs else {}
        for bench in self.p.benchmarks:
            if bench.name in outcomes:
                out = outcomes[bench.name]
                rows = [{**r, "backend": self.engine.name} for r in out.records]
                self.ctx.store.put_jsonl(self.ctx.out(f"predictions/{bench.name}.jsonl"), out.predictions)
                subtasks += out.subtasks
                n = len(out.predictions)
            else:
                scored = self._score(bench)
                self.ctx.store.put_jsonl(self.ctx.out(f"predictions/{bench.name}.jsonl"), scored.records)
                rows = [{"benchmark": bench.name, "kind": bench.kind, "metric": metric, "score": score,
                         "n": scored.n, "language": self.p.language, "shots": bench.shots}
                        for metric, score in sorted(scored.metrics.items())]
                n = scored.n
            records += rows
            self.ctx.log.info("%s: %s (n=%d)", bench.name,
                              ", ".join(f"{r['metric']}={r['score']:.3f}" for r in rows)
                              or "answers kept for the judge steps", n)
        if subtasks:
            self.ctx.store.put_json(self.ctx.out("subtasks.json"), subtasks)
        self.ctx.store.put_json(self.ctx.out("records.json"), records)
        return {"records": len(records)}

    def cleanup(self) -> None:
        self.engine = None


STEP = EvaluateStep
