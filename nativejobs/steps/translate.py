"""translate: an instruction set from one language into another with an LLM engine.

Instruction, input and response are translated separately (as the paper did); empty fields
stay empty. Each translated segment is cached in the store under
``cache/translate/<engine-hash>/<segment-hash>.json``, so a retried or re-planned step never
pays for a segment twice.

Inputs: ``source`` (Alpaca JSONL).
Outputs: ``translated.jsonl`` (ids kept), ``stats.json``.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from nativejobs.languages import LANGUAGES
from nativejobs.steps._context import StepContext

KIND = "translate"
VERSION = 1

FIELDS = ("instruction", "input", "output")
# The paper's prompt for LLM translation (Command R), PROTOCOL.md.
PROMPT = ("Please translate from {src} to {tgt}. Do your best to preserve the formatting. "
          "The following content should and should only be translated.\n\n{text}")


class Engine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["llm"]
    model: str
    batch_size: int
    max_new_tokens: int


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    engine: Engine
    source_language: str
    target_language: str


def prompt_for(text: str, src: str, tgt: str) -> str:
    return PROMPT.format(src=LANGUAGES[src].name, tgt=LANGUAGES[tgt].name, text=text)


def segment_id(engine: Engine, src: str, tgt: str, text: str) -> str:
    doc = f"{engine.model}\0{engine.max_new_tokens}\0{src}\0{tgt}\0{text}"
    return hashlib.sha256(doc.encode()).hexdigest()


class TranslateStep:
    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        self.p = Params.model_validate(ctx.params)
        self.cache_prefix = f"cache/translate/{self.p.engine.kind}"

    def setup(self) -> None:
        self.rows = self.ctx.store.get_jsonl(self.ctx.input_path("source"))
        self.engine = None  # loaded only if some segment is not cached

    def _engine(self) -> Any:
        if self.engine is None:
            from nativejobs.engines import load_engine

            self.engine = load_engine(self.p.engine.model, batch_size=self.p.engine.batch_size)
        return self.engine

    def _cache_path(self, seg: str) -> str:
        return f"{self.cache_prefix}/{seg[:2]}/{seg}.json"

    def run(self) -> dict[str, Any]:
        p, store = self.p, self.ctx.store
        texts = sorted({r[f] for r in self.rows for f in FIELDS if r.get(f, "").strip()})
        ids = {t: segment_id(p.engine, p.source_language, p.target_language, t) for t in texts}
        done: dict[str, str] = {}
        for t in texts:
            if store.exists(self._cache_path(ids[t])):
                done[t] = store.get_json(self._cache_path(ids[t]))["translation"]
        todo = [t for t in texts if t not in done]
        self.ctx.log.info("%d segments, %d cached, %d to translate %s→%s", len(texts),
                          len(done), len(todo), p.source_language, p.target_language)
        calls = self._translate(todo, ids, done)
        out = [{**r, **{f: done.get(r.get(f, ""), "") for f in FIELDS}} for r in self.rows]
        store.put_jsonl(self.ctx.out("translated.jsonl"), out)
        stats = {"rows": len(out), "segments": len(texts), "cached": len(texts) - len(todo),
                 "engine_calls": calls, "source_language": p.source_language,
                 "target_language": p.target_language}
        store.put_json(self.ctx.out("stats.json"), stats)
        return stats

    def _translate(self, todo: list[str], ids: dict[str, str], done: dict[str, str]) -> int:
        p, bs = self.p, self.p.engine.batch_size
        batches = [todo[i : i + bs] for i in range(0, len(todo), bs)]
        for batch in self.ctx.progress(batches, total=len(batches), what="translate batches"):
            engine = self._engine()
            prompts = [engine.chat_prompt(prompt_for(t, p.source_language, p.target_language))
                       for t in batch]
            outs = engine.generate(prompts, max_new_tokens=p.engine.max_new_tokens)
            for text, translation in zip(batch, outs, strict=True):
                translation = translation.strip()
                # Cache as we go: a step killed mid-way keeps every finished segment.
                self.ctx.store.put_json(self._cache_path(ids[text]),
                                        {"source": text, "translation": translation})
                done[text] = translation
        return len(todo)

    def cleanup(self) -> None:
        self.engine = None


STEP = TranslateStep
