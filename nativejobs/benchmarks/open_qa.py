"""Open-ended QA (OASST1 questions): answered here, rated 1–5 by LLM judges in the judge step.

Test file: JSON lines with ``id`` and ``prompt`` (the authors' ``test-data/test_{lang}.jsonl`` in
hplt-project/monolingual-multilingual-instruction-tuning: 50 OASST1 questions, ids shared across
languages). Items carry the bare question; the evaluate step wraps it in the template the model
was fine-tuned with (Alpaca or chat), as the authors' ``loraft/generate.py`` did, and cuts the
answer at ``"\\n### "`` (the start of a next Alpaca section, the same cut as that script).
Decoding is greedy like every generative benchmark here; that script used 4-beam search with
``no_repeat_ngram_size=6`` (a deviation, so that every benchmark here decodes the same way).

There are no gold answers, so ``score`` computes no metric: it keeps each item's question and
answer for the judge step, which writes the scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nativejobs.benchmarks._upstream import bad_file
from nativejobs.errors import StepInputError
from nativejobs.json_lines import JsonLineError, iter_json_lines

__all__ = ["MAX_NEW_TOKENS", "STOP", "GenerationItem", "ScoredBenchmark", "load", "score"]

# The authors' generate.py answered with at most 256 new tokens (max_new_tokens=256).
MAX_NEW_TOKENS = 256
STOP = ("\n### ",)


@dataclass(frozen=True)
class GenerationItem:
    """One question to answer greedily; ``golds`` is empty (the judges rate the answer)."""

    id: str
    prompt: str
    golds: tuple[str, ...]
    stop: tuple[str, ...]
    max_new_tokens: int
    language: str


@dataclass(frozen=True)
class ScoredBenchmark:
    """The answers of one run: no metric (``metrics`` is empty), one record per item."""

    metrics: dict[str, float]
    n: int
    records: list[dict[str, object]] = field(default_factory=list)


def load(
    *, path: str, language: str, shots: int, limit: int | None, dev_path: str | None = None
) -> list[GenerationItem]:
    """One item per question of a JSONL file of ``{"id", "prompt"}`` rows, in file order.

    Raises:
        StepInputError: If ``shots`` is not 0, or the file is missing, not JSONL, lacks a field,
            repeats an id or holds no questions.
    """
    if shots:
        raise StepInputError(f"benchmark kind 'open_qa' is zero-shot; shots is {shots}; set it to 0")
    questions = _read_questions(path)
    return [
        GenerationItem(id=qid, prompt=text, golds=(), stop=STOP, max_new_tokens=MAX_NEW_TOKENS,
                       language=language)
        for qid, text in (questions if limit is None else questions[:limit])
    ]


def score(items: list[GenerationItem], outputs: list[str]) -> ScoredBenchmark:
    """Per-item question and answer for the judge; no metric (the judges score these).

    Raises:
        ValueError: If the counts differ or there are no items.
    """
    if not items:
        raise ValueError("no items to score")
    if len(items) != len(outputs):
        raise ValueError(f"{len(items)} items but {len(outputs)} outputs; pass one per item")
    records: list[dict[str, object]] = [
        {"id": it.id, "question": it.prompt, "prediction": _cut_at_stop(out, it.stop).strip()}
        for it, out in zip(items, outputs, strict=True)
    ]
    return ScoredBenchmark(metrics={}, n=len(records), records=records)


def _cut_at_stop(completion: str, stop: Sequence[str]) -> str:
    """Cut before the first stop sequence, as lm-eval's ``generate_until`` does: engines usually
    stop there already; this makes the answer independent of the engine."""
    for sequence in stop:
        if sequence:
            completion = completion.split(sequence, 1)[0]
    return completion


def _read_text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8-sig")  # a leading BOM is dropped
    except FileNotFoundError as e:
        raise bad_file(path, "not found", "check the benchmark's path and dev_path") from e
    except UnicodeDecodeError as e:
        raise bad_file(path, f"not UTF-8 (byte {e.start})", "re-save it as UTF-8") from e
    except OSError as e:
        raise bad_file(path, f"cannot be read ({e.strerror})", "check the path") from e


def _read_questions(path: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    try:
        for lineno, row in iter_json_lines(_read_text(path)):
            qid = row.get("id") if isinstance(row, dict) else None
            text = row.get("prompt") if isinstance(row, dict) else None
            if not isinstance(qid, (str, int)) or not isinstance(text, str) or not text.strip():
                raise bad_file(path, f"line {lineno} lacks a string 'id' or a non-empty 'prompt'",
                               'give rows like {"id": "q1", "prompt": "..."}')
            if str(qid) in seen:
                raise bad_file(path, f"line {lineno} repeats id {qid!r}", "give every question its own id")
            seen.add(str(qid))
            out.append((str(qid), text))
    except JsonLineError as e:
        raise bad_file(path, f"line {e.line} is not JSON ({e.why})", "give one object a line") from e
    if not out:
        raise bad_file(path, "holds no questions", 'give JSON lines like {"id": "q1", "prompt": "..."}')
    return out
