"""translate: an instruction set from one language into another, with any engine.

Instruction, input and response are translated separately (as the paper did); empty fields stay
empty, and formatting (line breaks, lists, fenced code) is kept by ``translation.layout``. Each
translated segment is cached in the store as soon as its engine call returns (see
``translation.cache``), so a retried, killed or re-planned step never pays for a segment twice:
a second run of the same step makes zero engine calls. Every translated field is checked
(language identification, length ratio); the engine's ``quality.policy`` keeps, drops or
retries flagged items, and the counts are in the step's metrics.

The round trip X→en→X is two of these steps; the first one's output is the English pivot.

Inputs: ``source`` (Alpaca JSONL).
Outputs: ``translated.jsonl`` (ids kept; items a ``drop`` policy removed are left out),
``flagged.jsonl`` (id and flags of every item still flagged), ``stats.json``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict

from nativejobs.errors import StepInputError
from nativejobs.languages import LANGUAGES
from nativejobs.steps._context import StepContext
from nativejobs.translation import (
    EngineConfig,
    Layout,
    QualityChecker,
    SegmentCache,
    Translator,
    layout,
    load_translator,
)
from nativejobs.versions import STEP_VERSIONS

KIND = "translate"
VERSION = STEP_VERSIONS[KIND]  # kept in nativejobs/versions.py, which the planner reads

FIELDS = ("instruction", "input", "output")
Cell = tuple[int, str]  # (row index, field)


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    engine: EngineConfig
    source_language: str
    target_language: str


class _Progress:
    """'segments i/total (rate/s)' log lines, at most every ``every_s`` and at the end."""

    def __init__(self, ctx: StepContext, total: int, what: str, every_s: float = 10.0) -> None:
        self.ctx, self.total, self.what, self.every_s = ctx, total, what, every_s
        self.done, self.start = 0, time.monotonic()
        self.last = self.start

    def advance(self, n: int, calls: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= self.every_s or self.done >= self.total:
            self.last = now
            rate = self.done / max(now - self.start, 1e-9)
            self.ctx.log.info("%s: %d/%d segments (%.2f segments/s), %d engine calls", self.what,
                              self.done, self.total, rate, calls)


class TranslateStep:
    """``load`` builds the engine (a seam: tests pass a counting fake)."""

    def __init__(self, ctx: StepContext, *,
                 load: Callable[[EngineConfig], Translator] = load_translator) -> None:
        self.ctx, self.load = ctx, load
        self.p = Params.model_validate(ctx.params)
        for lang in (self.p.source_language, self.p.target_language):
            if lang not in LANGUAGES:
                raise StepInputError(f"translate: unknown language {lang!r}")
        self.src, self.tgt = self.p.source_language, self.p.target_language
        self.translator: Translator | None = None
        self.calls = self.sent = self.hits = 0

    def setup(self) -> None:
        e = self.p.engine
        self.rows = self.ctx.store.get_jsonl(self.ctx.input_path("source"))
        self.layouts: dict[Cell, Layout] = {
            (i, f): layout(str(r.get(f) or ""), mode=e.split_mode, protect_code=e.protect_code)
            for i, r in enumerate(self.rows) for f in FIELDS}
        self.cache = SegmentCache(self.ctx.store, e.cache_identity(), self.src, self.tgt)
        self.checker = QualityChecker(e.quality, self.src, self.tgt)

    def _engine(self) -> Translator:
        if self.translator is None:  # loaded only when some segment is not cached
            self.translator = self.load(self.p.engine)
        return self.translator

    def _translate(self, pieces: list[str], attempt: int) -> dict[str, str]:
        """Every piece's translation at ``attempt``: from the cache, else from the engine."""
        done = {p: t for p in pieces if (t := self.cache.get(p, attempt)) is not None}
        todo = [p for p in pieces if p not in done]
        self.hits += len(done)
        self.ctx.log.info("%s→%s attempt %d: %d segments, %d cached, %d to translate", self.src,
                          self.tgt, attempt, len(pieces), len(done), len(todo))
        if not todo:
            return done
        engine = self._engine()
        progress = _Progress(self.ctx, len(todo), f"translate {self.src}→{self.tgt}")
        for i in range(0, len(todo), engine.batch_size):
            batch = todo[i : i + engine.batch_size]
            outs = engine.translate(batch, src=self.src, tgt=self.tgt, attempt=attempt)
            if len(outs) != len(batch):
                raise StepInputError(f"engine {self.p.engine.kind} returned {len(outs)} "
                                     f"translations for {len(batch)} segments")
            self.calls += 1
            self.sent += len(batch)
            # Cache as we go: a step killed mid-way keeps every finished segment.
            self.cache.put(list(zip(batch, outs, strict=True)), attempt)
            done.update(zip(batch, outs, strict=True))
            progress.advance(len(batch), self.calls)
        return done

    def _render(self, cells: list[Cell], attempt: int) -> dict[Cell, str]:
        pieces = sorted({p for c in cells for p in self.layouts[c].pieces})
        done = self._translate(pieces, attempt)
        return {c: self.layouts[c].render(done) for c in cells}

    def _check(self, out: dict[Cell, str]) -> dict[Cell, tuple[str, ...]]:
        flags = {c: self.checker.check(str(self.rows[c[0]].get(c[1]) or ""), text)
                 for c, text in out.items()}
        return {c: f for c, f in flags.items() if f}

    def _retry(self, out: dict[Cell, str], flagged: dict[Cell, tuple[str, ...]]) -> int:
        """Translate flagged fields again (sampled); a retry that passes replaces the field."""
        retried = 0
        for attempt in range(1, self.p.engine.quality.retries + 1):
            if not flagged:
                break
            cells = sorted(flagged)
            retried += sum(len(self.layouts[c].pieces) for c in cells)
            again = self._render(cells, attempt)
            still = self._check(again)
            for c in cells:
                if c not in still:
                    out[c] = again[c]
                    del flagged[c]
        return retried

    def run(self) -> dict[str, Any]:
        start = time.monotonic()
        out = self._render(sorted(self.layouts), attempt=0)
        flagged = self._check(out)
        first_flagged_rows = len({i for i, _ in flagged})
        retried = self._retry(out, flagged) if self.p.engine.quality.policy == "retry" else 0
        bad_rows = {i for i, _ in flagged}
        drop = self.p.engine.quality.policy == "drop"
        rows = [{**r, **{f: out[(i, f)] for f in FIELDS}} for i, r in enumerate(self.rows)
                if not (drop and i in bad_rows)]
        audit = [{"id": self.rows[i].get("id", str(i)),
                  "flags": {f: list(fl) for (j, f), fl in sorted(flagged.items()) if j == i}}
                 for i in sorted(bad_rows)]
        store = self.ctx.store
        store.put_jsonl(self.ctx.out("translated.jsonl"), rows)
        store.put_jsonl(self.ctx.out("flagged.jsonl"), audit)
        stats = self._stats(rows, flagged, first_flagged_rows, retried, time.monotonic() - start)
        store.put_json(self.ctx.out("stats.json"), stats)
        return stats

    def _stats(self, rows: list[dict[str, Any]], flagged: dict[Cell, tuple[str, ...]],
               first_flagged_rows: int, retried: int, wall_s: float) -> dict[str, Any]:
        segments = len({p for lay in self.layouts.values() for p in lay.pieces})
        by_flag = Counter(f for fl in flagged.values() for f in fl)
        return {
            "source_language": self.src, "target_language": self.tgt,
            "engine": self.p.engine.kind, "rows": len(self.rows), "rows_out": len(rows),
            "segments": segments, "engine_calls": self.calls, "segments_translated": self.sent,
            "cached": self.hits,
            "segments_per_s": round(self.sent / wall_s, 3) if self.sent and wall_s else 0.0,
            "quality_policy": self.p.engine.quality.policy,
            "flagged_rows_first_pass": first_flagged_rows,
            "flagged_rows": len({i for i, _ in flagged}),
            "flags": {f: by_flag.get(f, 0) for f in ("empty", "language", "length_ratio")},
            "retried_segments": retried, "dropped_rows": len(self.rows) - len(rows),
            "usage": dict(self.translator.usage) if self.translator is not None else {},
        }

    def cleanup(self) -> None:
        if self.translator is not None:
            self.translator.close()
        self.translator = None


STEP = TranslateStep
