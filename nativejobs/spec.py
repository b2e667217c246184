"""The experiment spec: pydantic models of the YAML a user writes, with friendly errors.

A spec is a grid: languages × data conditions × base models × training arms × benchmarks.
Defaults are the paper's (Chen et al., EMNLP 2024; ``PROTOCOL.md``) unless a comment says why not.
Every problem is reported at once, one line each: ``models[1].id: got ''; must not be empty``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from nativejobs.errors import SpecError
from nativejobs.languages import LANGUAGES

__all__ = [
    "ArmSpec", "BenchmarkSpec", "ConditionSpec", "DataSpec", "EngineSpec", "ExecutionSpec",
    "ExperimentSpec", "LoraSpec", "ModelSpec", "ResourceSpec", "SourceSpec", "TrainingSpec",
    "load_spec", "parse_spec",
]

STEP_KINDS = ("prepare", "translate", "train", "evaluate", "summarize")
_NAME = r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$"  # DNS-label-like: safe in Job names and paths


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _resolve_path(value: str, info: ValidationInfo) -> str:
    """Make a relative local path absolute against the spec file's folder; URIs pass through."""
    if "://" in value or value.startswith("/"):
        return value
    base = (info.context or {}).get("base_dir")
    return str((Path(base) / value).resolve()) if base else value


def _check_language(code: str) -> str:
    if code not in LANGUAGES:
        known = ", ".join(sorted(c for c in LANGUAGES if c != "en"))  # en is the pivot
        raise ValueError(f"unknown language {code!r}; use an ISO 639-1 code, one of: {known}")
    return code


LanguageCode = Annotated[str, AfterValidator(_check_language)]


class SourceSpec(_Model):
    """Where instruction data comes from.

    ``files``: local or S3 JSON/JSONL in Alpaca or Aya format; ``{lang}`` in ``path`` is replaced
    by the language code. ``aya``: the Aya Dataset on the Hugging Face hub (train split).
    """

    kind: Literal["files", "aya"] = "files"
    path: str | None = None
    dataset: str = "CohereForAI/aya_dataset"
    split: str = "train"

    @field_validator("path")
    @classmethod
    def _resolve(cls, v: str | None, info: ValidationInfo) -> str | None:
        return None if v is None else _resolve_path(v, info)

    @model_validator(mode="after")
    def _needs_path(self) -> SourceSpec:
        if self.kind == "files" and not self.path:
            raise ValueError("kind 'files' needs a path, e.g. data/{lang}.jsonl")
        return self


class DataSpec(_Model):
    """Instruction data: the native source per language and the English pool to translate from."""

    native: SourceSpec
    english: SourceSpec
    # None = every native item, as the paper did (es 3,854, ru 423, zh 3,944).
    size: int | None = Field(default=None, gt=0)
    seed: int = 0


class EngineSpec(_Model):
    """A translation engine. ``llm``: an instruction-following LLM with the paper's prompt."""

    kind: Literal["llm"] = "llm"
    model: str = Field(min_length=1)  # hub id, local path, or pypi:<package> shipping a GGUF
    batch_size: int = Field(default=8, gt=0)
    max_new_tokens: int = Field(default=512, gt=0)


class ConditionSpec(_Model):
    """A data condition: the native data, or data made by an engine."""

    name: str = Field(pattern=_NAME)
    kind: Literal["native", "translated", "round_trip"] = "native"
    engine: str | None = None  # a key of `engines`

    @model_validator(mode="after")
    def _engine_matches_kind(self) -> ConditionSpec:
        if self.kind == "native" and self.engine:
            raise ValueError(f"condition {self.name!r} is native and takes no engine")
        if self.kind != "native" and not self.engine:
            raise ValueError(f"condition {self.name!r} of kind {self.kind} needs an engine")
        return self


class ModelSpec(_Model):
    """A base model to fine-tune."""

    name: str = Field(pattern=_NAME)
    id: str = Field(min_length=1)  # hub id, local path, or pypi:<package> shipping a GGUF
    revision: str | None = None


class LoraSpec(_Model):
    r: int = Field(default=8, gt=0)  # paper: r 8
    alpha: int = Field(default=16, gt=0)  # paper: alpha 16
    dropout: float = Field(default=0.05, ge=0, lt=1)  # paper: 0.05
    # paper: q, k, v (PEFT's default would be q, v only)
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj")


class TrainingSpec(_Model):
    """The LoRA recipe shared by every arm."""

    epochs: int = Field(default=10, gt=0)  # paper: up to 10, best held-out epoch kept
    effective_batch_size: int = Field(default=64, gt=0)  # paper: 64
    micro_batch_size: int = Field(default=4, gt=0)  # per step; accumulation makes up the rest
    max_length: int = Field(default=1024, gt=16)
    template: Literal["alpaca", "chat"] = "alpaca"  # paper: very likely Alpaca
    heldout_fraction: float = Field(default=0.05, ge=0, le=0.5)
    lora: LoraSpec = LoraSpec()
    seed: int = 0


class ArmSpec(_Model):
    """A training arm: learning rate and data mode."""

    name: str = Field(pattern=_NAME)
    lr: float = Field(gt=0)
    mode: Literal["mono"] = "mono"


class BenchmarkSpec(_Model):
    """A benchmark, read from files in its upstream format; ``{lang}`` in paths is replaced."""

    name: str = Field(pattern=_NAME)
    kind: Literal["extractive_qa", "math_cot", "multiple_choice"]
    path: str
    dev_path: str | None = None  # few-shot examples (MGSM exemplars, CMMLU dev)
    languages: tuple[LanguageCode, ...] | None = None  # None = every spec language
    shots: int = Field(default=0, ge=0)
    limit: int | None = Field(default=None, gt=0)
    # None = the benchmark's own cap (MGSM: 256, which can cut a long chain of thought)
    max_new_tokens: int | None = Field(default=None, gt=0)

    @field_validator("path", "dev_path")
    @classmethod
    def _resolve(cls, v: str | None, info: ValidationInfo) -> str | None:
        return None if v is None else _resolve_path(v, info)

    @model_validator(mode="after")
    def _shots_need_dev(self) -> BenchmarkSpec:
        if self.shots and not self.dev_path:
            raise ValueError(f"benchmark {self.name!r} has shots {self.shots} but no dev_path")
        return self


class ResourceSpec(_Model):
    """What one step's job asks the cluster for (the local backend ignores it)."""

    gpus: int = Field(default=0, ge=0)
    cpu: str = "2"
    memory: str = "8Gi"


class ExecutionSpec(_Model):
    max_parallel: int = Field(default=2, gt=0)  # steps running at once
    retries: int = Field(default=2, ge=0)  # extra attempts for a retryable failure
    step_timeout_minutes: int = Field(default=24 * 60, gt=0)


class ExperimentSpec(_Model):
    """The whole study."""

    name: str = Field(pattern=_NAME)
    store: str | None = None  # default: $NATIVEJOBS_STORE, else ./.nativejobs/store
    languages: tuple[LanguageCode, ...] = Field(min_length=1)
    data: DataSpec
    engines: dict[str, EngineSpec] = {}
    conditions: tuple[ConditionSpec, ...] = Field(min_length=1)
    models: tuple[ModelSpec, ...] = Field(min_length=1)
    training: TrainingSpec = TrainingSpec()
    arms: tuple[ArmSpec, ...] = (ArmSpec(name="lr-1e-4", lr=1e-4),)
    benchmarks: tuple[BenchmarkSpec, ...] = Field(min_length=1)
    resources: dict[Literal["prepare", "translate", "train", "evaluate", "summarize"], ResourceSpec] = {}
    execution: ExecutionSpec = ExecutionSpec()

    @field_validator("languages")
    @classmethod
    def _not_pivot(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if "en" in v:
            raise ValueError("'en' is the pivot language and cannot be a target language")
        return v

    @field_validator("store")
    @classmethod
    def _resolve(cls, v: str | None, info: ValidationInfo) -> str | None:
        return None if v is None else _resolve_path(v.removeprefix("file://"), info)

    def store_uri(self) -> str:
        """Where this experiment's artifacts live."""
        return self.store or os.environ.get("NATIVEJOBS_STORE") or str(Path(".nativejobs/store").resolve())

    def resources_for(self, kind: str) -> ResourceSpec:
        return self.resources.get(kind, ResourceSpec())  # type: ignore[call-overload]


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not str(part).startswith(("function-", "function_")):
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _line(err: Any) -> str:
    loc, msg, kind = _loc(err["loc"]), err["msg"], err["type"]
    msg = re.sub(r"^(Value error|Assertion failed), ", "", msg)
    if kind == "extra_forbidden":
        return f"{loc}: unknown key; remove it or fix its spelling"
    if kind == "missing":
        return f"{loc}: required key is missing"
    return f"{loc}: got {err.get('input')!r}; {msg[0].lower() + msg[1:] if msg else 'invalid'}"


def _items(doc: dict[str, Any], field: str) -> list[dict[str, Any]]:
    value = doc.get(field)
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


def _cross_reference_problems(doc: dict[str, Any]) -> list[str]:
    """Problems between fields, found on the raw document so they show beside field errors."""
    engines = doc.get("engines") if isinstance(doc.get("engines"), dict) else {}
    problems = [
        f"conditions[{i}].engine: got {c['engine']!r}; must be one of the engines: "
        f"{', '.join(sorted(map(str, engines))) or '(none defined)'}"
        for i, c in enumerate(_items(doc, "conditions"))
        if c.get("engine") is not None and c["engine"] not in engines
    ]
    for field in ("conditions", "models", "arms", "benchmarks"):
        names = [str(item.get("name")) for item in _items(doc, field) if "name" in item]
        if dupes := sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"{field}: names must be unique; repeated: {', '.join(dupes)}")
    return problems


def _field_problems(e: ValidationError) -> list[str]:
    errors = e.errors()
    # A bad sole item also fails the list's min_length; that second line would only mislead.
    return [_line(err) for err in errors
            if not (err["type"] == "too_short"
                    and any(o is not err and o["loc"][: len(err["loc"])] == err["loc"] for o in errors))]


def parse_spec(doc: Any, *, base_dir: Path | None = None) -> ExperimentSpec:
    """Validate a spec document. Raises: SpecError with one line per problem, all at once."""
    if not isinstance(doc, dict):
        raise SpecError([f"(top level): got {type(doc).__name__}; the spec must be a YAML mapping"])
    problems = _cross_reference_problems(doc)
    try:
        spec = ExperimentSpec.model_validate(doc, context={"base_dir": base_dir})
    except ValidationError as e:
        raise SpecError(_field_problems(e) + problems) from None
    if problems:
        raise SpecError(problems)
    return spec


def load_spec(path: Path) -> ExperimentSpec:
    """Read and validate a YAML spec; relative paths in it are relative to its folder.

    Raises: SpecError if the file is unreadable, not YAML, or invalid.
    """
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise SpecError([f"{path}: cannot read the spec ({e.strerror})"]) from e
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise SpecError([f"{path}{where}: not valid YAML ({getattr(e, 'problem', e)})"]) from e
    return parse_spec(doc, base_dir=path.resolve().parent)
