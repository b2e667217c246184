"""prepare: a seeded sample of instruction data for one language.

Role ``native``: the native sample of the language (all rows, or ``size`` of them).
Role ``english``: a sample of the English pool of the same size as the native sample (input
``match``), to be translated into the language.

Outputs: ``data.jsonl`` (Alpaca rows: id, instruction, input, output), ``stats.json``.
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
    role: Literal["native", "english"]
    source: Source
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
    """``size`` rows drawn without replacement, in an order fixed by ``seed``; all if None."""
    if size is None or size >= len(rows):
        return list(rows)
    return random.Random(seed).sample(rows, size)


class PrepareStep:
    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        self.p = Params.model_validate(ctx.params)

    def setup(self) -> None:
        p = self.p
        self.pool = load_source(p.source, p.language if p.role == "native" else "en")
        if p.role == "native":
            self.size = p.size
        else:  # as many English rows as the native sample has
            self.size = len(self.ctx.store.get_jsonl(self.ctx.input_path("match")))
        if self.size is not None and self.size > len(self.pool):
            where = "data.size" if p.role == "native" else "the native sample's size"
            raise StepInputError(f"{where} is {self.size} but the {p.role} source for "
                                 f"{p.language} has only {len(self.pool)} rows; lower data.size")

    def run(self) -> dict[str, Any]:
        p = self.p
        rows = sample(self.pool, self.size, seed=f"{p.seed}:{p.role}:{p.language}")
        self.ctx.store.put_jsonl(self.ctx.out("data.jsonl"), rows)
        stats = {"language": p.language, "role": p.role, "rows": len(rows), "pool": len(self.pool)}
        self.ctx.store.put_json(self.ctx.out("stats.json"), stats)
        self.ctx.log.info("%s sample for %s: %d of %d rows", p.role, p.language, len(rows),
                          len(self.pool))
        return stats

    def cleanup(self) -> None:
        pass


STEP = PrepareStep
