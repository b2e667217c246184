"""prepare: the native sample of one language and an English pool sample of the same size.

Inputs: none (reads the spec's sources).
Outputs: ``native.jsonl`` and ``english.jsonl`` (Alpaca rows: id, instruction, input, output),
``stats.json``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from nativejobs.errors import StepInputError
from nativejobs.languages import LANGUAGES
from nativejobs.steps._context import StepContext

KIND = "prepare"
VERSION = 1

Row = dict[str, str]


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["files", "aya"]
    path: str | None = None
    dataset: str = "CohereForAI/aya_dataset"
    split: str = "train"


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    language: str
    native: Source
    english: Source
    size: int | None
    seed: int


def to_alpaca(raw: dict[str, Any], *, where: str, index: int) -> Row:
    """One Alpaca row from an Alpaca- or Aya-format record. Raises: StepInputError."""
    if "instruction" in raw and "output" in raw:
        row = {"instruction": raw["instruction"], "input": raw.get("input") or "",
               "output": raw["output"]}
    elif "inputs" in raw and "targets" in raw:  # Aya Dataset columns
        row = {"instruction": raw["inputs"], "input": "", "output": raw["targets"]}
    else:
        raise StepInputError(f"{where} row {index}: has keys {sorted(raw)}; need Alpaca "
                             "(instruction, input, output) or Aya (inputs, targets) fields")
    row["id"] = str(raw.get("id", raw.get("id_", index)))
    return {k: str(v) for k, v in row.items()}


def _read_records(path: str) -> list[dict[str, Any]]:
    """JSON list or JSONL from a local path. Raises: StepInputError."""
    file = Path(path)
    if not file.is_file():
        raise StepInputError(f"data file {path} does not exist; fix data.*.path in the spec")
    text = file.read_text(encoding="utf-8")
    try:
        if path.endswith(".jsonl"):
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise StepInputError(f"data file {path}: not valid JSON ({e})") from e
    if not isinstance(doc, list):
        raise StepInputError(f"data file {path}: top level is {type(doc).__name__}; need a list")
    return doc


def load_source(source: Source, lang: str) -> list[Row]:
    """Every row of ``source`` for language ``lang``."""
    if source.kind == "files":
        assert source.path is not None
        path = source.path.replace("{lang}", lang)
        return [to_alpaca(r, where=path, index=i) for i, r in enumerate(_read_records(path))]
    from datasets import load_dataset  # the hub path: cluster runs only

    iso3 = LANGUAGES[lang].iso3
    data = load_dataset(source.dataset, split=source.split).filter(
        lambda r: r["language_code"] == iso3)
    return [to_alpaca(dict(r), where=source.dataset, index=i) for i, r in enumerate(data)]


def sample(rows: list[Row], size: int | None, *, seed: str) -> list[Row]:
    """``size`` rows drawn without replacement, in a order fixed by ``seed``; all rows if None."""
    if size is None or size >= len(rows):
        return list(rows)
    return random.Random(seed).sample(rows, size)


class PrepareStep:
    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        self.p = Params.model_validate(ctx.params)

    def setup(self) -> None:
        lang = self.p.language
        self.native_pool = load_source(self.p.native, lang)
        self.english_pool = load_source(self.p.english, "en")
        if self.p.size is not None and self.p.size > len(self.native_pool):
            raise StepInputError(f"data.size is {self.p.size} but the native {lang} source has only "
                                 f"{len(self.native_pool)} rows; lower data.size or omit it")

    def run(self) -> dict[str, Any]:
        lang, seed = self.p.language, self.p.seed
        native = sample(self.native_pool, self.p.size, seed=f"{seed}:native:{lang}")
        if len(native) > len(self.english_pool):
            raise StepInputError(f"the English pool has {len(self.english_pool)} rows, fewer than "
                                 f"the {len(native)} native {lang} rows it must match")
        english = sample(self.english_pool, len(native), seed=f"{seed}:english:{lang}")
        self.ctx.store.put_jsonl(self.ctx.out("native.jsonl"), native)
        self.ctx.store.put_jsonl(self.ctx.out("english.jsonl"), english)
        stats = {"language": lang, "native": len(native), "english": len(english),
                 "native_pool": len(self.native_pool), "english_pool": len(self.english_pool)}
        self.ctx.store.put_json(self.ctx.out("stats.json"), stats)
        self.ctx.log.info("native %d of %d rows, english %d of %d rows", len(native),
                          len(self.native_pool), len(english), len(self.english_pool))
        return stats

    def cleanup(self) -> None:
        pass


STEP = PrepareStep
