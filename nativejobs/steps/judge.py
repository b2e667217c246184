"""judge: one evaluate step's open-ended answers, rated 1–5 by one LLM judge.

Each answer gets a single-answer verdict (the paper's prompt: a brief explanation, then
``[[rating]]``); an unparsable verdict is asked again with a nudge, ``retries`` times, then
recorded as ``unparsable`` with the raw replies (``nativejobs.judge``). Verdicts are cached in the
store as each batch returns, so a retried step pays for none twice. An HTTP judge retries 429
and 5xx with backoff (``Retry-After`` honoured); a local judge is one model load per step.

Inputs: ``answers_<benchmark>`` (evaluate's ``predictions/<benchmark>.jsonl``), one per open_qa
benchmark this judge rates.
Outputs: ``records.json`` (per benchmark: ``judge_<name>_total`` and ``judge_<name>_mean``, with
n, questions, unparsable, judge), ``items/<benchmark>.jsonl`` (per question: id, question,
answer, rating, status, attempts, rationale, every raw verdict, and the item's value of each
metric for paired statistics), ``stats.json`` (counts, cache hits, usage).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict

from nativejobs.errors import StepInputError
from nativejobs.judge import (
    PROMPT_VERSION,
    Judge,
    JudgeConfig,
    Verdict,
    VerdictCache,
    grade,
    load_judge,
    score_verdicts,
)
from nativejobs.steps._context import StepContext
from nativejobs.versions import STEP_VERSIONS, answers_input

KIND = "judge"
VERSION = STEP_VERSIONS[KIND]  # kept in nativejobs/versions.py, which the planner reads


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str  # the judge's name in the spec: the metrics are judge_<name>_total / _mean
    judge: JudgeConfig
    prompt_version: int
    language: str
    benchmarks: list[str]


class JudgeStep:
    """``load`` builds the judge (a seam: tests pass a scripted judge)."""

    def __init__(self, ctx: StepContext, *,
                 load: Callable[[JudgeConfig, str], Judge] = lambda c, n: load_judge(c, name=n)) -> None:
        self.ctx, self.load = ctx, load
        self.p = Params.model_validate(ctx.params)
        if self.p.prompt_version != PROMPT_VERSION:
            raise StepInputError(f"judge step planned with prompt version {self.p.prompt_version}, "
                                 f"this nativejobs has {PROMPT_VERSION}; submit the spec again")
        missing = [b for b in self.p.benchmarks if answers_input(b) not in ctx.inputs]
        if missing:
            raise StepInputError(f"judge step has no answers input for {', '.join(missing)}")

    def setup(self) -> None:
        self.answers = {b: self.ctx.store.get_jsonl(self.ctx.input_path(answers_input(b)))
                        for b in self.p.benchmarks}
        for bench, rows in self.answers.items():
            if not rows or not all({"id", "question", "prediction"} <= r.keys() for r in rows):
                raise StepInputError(f"answers of {bench} lack id, question or prediction; is it "
                                     "an open_qa benchmark's predictions file?")
        self.cache = VerdictCache(self.ctx.store, self.p.judge.identity())
        self.judge: Judge | None = None  # built only when a verdict is not cached
        self.calls = 0

    def _verdicts(self, bench: str) -> tuple[list[Verdict], int]:
        """Verdicts on one benchmark's answers, in order, and how many came from the cache."""
        pairs = [(r["question"], r["prediction"]) for r in self.answers[bench]]
        found = [self.cache.get(*pair) for pair in pairs]
        todo = [i for i, v in enumerate(found) if v is None]
        if todo and self.judge is None:
            self.judge = self.load(self.p.judge, self.p.name)
        size = self.p.judge.batch_size
        chunks = [todo[i : i + size] for i in range(0, len(todo), size)]
        for chunk in self.ctx.progress(chunks, total=len(chunks), what=f"{bench} verdict batches"):
            assert self.judge is not None
            made = grade(self.judge, [pairs[i] for i in chunk], tries=self.p.judge.tries)
            self.calls += sum(v.attempts for v in made)
            self.cache.put([(pairs[i], v) for i, v in zip(chunk, made, strict=True)])
            for i, v in zip(chunk, made, strict=True):
                found[i] = v
        return [v for v in found if v is not None], len(pairs) - len(todo)

    def run(self) -> dict[str, Any]:
        records: list[dict[str, Any]] = []
        stats: dict[str, Any] = {"judge": self.p.name, "benchmarks": {}}
        for bench in self.p.benchmarks:
            verdicts, cached = self._verdicts(bench)
            scores = score_verdicts(self.p.name, self.answers[bench], verdicts)
            self.ctx.store.put_jsonl(self.ctx.out(f"items/{bench}.jsonl"), scores.items)
            records += scores.records(self.p.name, bench, self.p.language)
            stats["benchmarks"][bench] = {
                "questions": scores.questions, "rated": scores.rated, "unparsable": scores.unparsable,
                "cached": cached, "retried": sum(v.attempts > 1 for v in verdicts),
                "total": scores.total, "mean": scores.mean}
            log = self.ctx.log.warning if scores.unparsable else self.ctx.log.info
            log("%s by %s: total %s over %d questions (%d rated, %d unparsable, %d cached)", bench,
                self.p.name, "–" if scores.total is None else f"{scores.total:.1f}", scores.questions,
                scores.rated, scores.unparsable, cached)
        stats |= {"judge_calls": self.calls, "usage": dict(self.judge.usage) if self.judge else {}}
        self.ctx.store.put_json(self.ctx.out("stats.json"), stats)
        self.ctx.store.put_json(self.ctx.out("records.json"), records)
        return {"records": len(records), "judge_calls": self.calls,
                "unparsable": sum(b["unparsable"] for b in stats["benchmarks"].values())}

    def cleanup(self) -> None:
        if self.judge is not None:
            self.judge.close()
        self.judge = None


STEP = JudgeStep
