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
    model_serializer,
    model_validator,
)

from nativejobs.benchmarks.catalog import HARNESS_KINDS, harness_benchmark
from nativejobs.errors import SpecError, short_repr, short_text
from nativejobs.languages import LANGUAGES

__all__ = [
    "NAME_PATTERN", "NAME_RULE", "PAPER_MIXTURE", "STEP_KINDS", "ArmSpec", "BenchmarkSpec",
    "ConditionSpec", "DataSpec", "EngineSpec", "ExecutionSpec", "ExperimentSpec", "JudgeSpec",
    "LoraSpec", "MixtureSpec", "ModelSpec", "QualitySpec", "ResourceSpec", "SourceSpec",
    "TrainingSpec", "check_store_uri", "default_store_uri", "load_spec", "location_problem",
    "parse_spec", "read_yaml",
]

STEP_KINDS = ("prepare", "translate", "train", "evaluate", "judge", "summarize")
StepKind = Literal["prepare", "translate", "train", "evaluate", "judge", "summarize"]
_NAME = r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$"  # DNS-label-like: safe in Job names and paths
NAME_PATTERN = _NAME


class _Model(BaseModel):
    # Finite numbers only: an infinite lr or GPU-hour estimate is never what was meant.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


_MAX_NAME_BYTES, _MAX_PATH_BYTES = 255, 4096  # POSIX NAME_MAX and PATH_MAX
# An S3 bucket name (loosely: AWS wants 3-63 of [a-z0-9.-]; legacy and other stores allow more).
_BUCKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


def location_problem(value: str, *, schemes: tuple[str, ...]) -> str | None:
    """Why ``value`` is not a usable local path or ``scheme://`` URI, or None when it is.

    Args:
        value: A path or URI as written in a spec or on the command line.
        schemes: The URI schemes allowed besides plain local paths (e.g. ``("s3",)``).
    """
    if not value.strip():
        return "must not be empty"
    if any(ord(c) < 32 or c == "\x7f" for c in value):
        return "contains a control character"
    scheme, sep, rest = value.partition("://")
    if sep and scheme.lower() not in schemes:
        allowed = " or ".join(["a local path", *(f"{s}://..." for s in schemes)])
        return f"scheme {short_text(scheme, 20)}:// is not supported here; use {allowed}"
    if sep and scheme.lower() == "s3":
        bucket, _, key = rest.partition("/")
        if not _BUCKET.match(bucket):
            return (f"bucket {short_repr(bucket)} is not an S3 bucket name (up to 63 letters, "
                    "digits, '.', '-' or '_'); write s3://BUCKET/KEY")
        if len(key.encode()) > 1024:
            return "S3 keys are at most 1,024 bytes"
        return None
    path = rest if sep else value
    if len(path.encode()) > _MAX_PATH_BYTES:
        return f"paths are at most {_MAX_PATH_BYTES} bytes"
    if long := [p for p in path.split("/") if len(p.encode()) > _MAX_NAME_BYTES]:
        return f"path component {short_repr(long[0], 40)} is longer than {_MAX_NAME_BYTES} bytes"
    return None


def _resolve_path(value: str, info: ValidationInfo, *, schemes: tuple[str, ...] = ("s3",)) -> str:
    """Make a relative local path absolute against the spec file's folder; URIs pass through.

    Raises: ValueError if ``value`` is empty, malformed or of a scheme not in ``schemes``.
    """
    if problem := location_problem(value, schemes=schemes):
        raise ValueError(problem)
    if "://" in value or value.startswith("/"):
        return value
    base = (info.context or {}).get("base_dir")
    return str((Path(base) / value).resolve()) if base else value


def check_store_uri(uri: str) -> str:
    """``uri`` if it can name a store (a local path, ``file://`` or ``s3://BUCKET/PREFIX``).

    Raises: SpecError (one line) saying what is wrong with it.
    """
    if problem := location_problem(uri, schemes=("file", "s3")):
        raise SpecError([f"store: got {short_repr(uri)}; {problem}"])
    return uri


def _check_language(code: str) -> str:
    if code not in LANGUAGES:
        known = ", ".join(sorted(c for c in LANGUAGES if c != "en"))  # en is the pivot
        raise ValueError(f"unknown language {short_repr(code)}; use an ISO 639-1 code, one of: {known}")
    return code


def _distinct(v: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
    if v is not None and (dupes := sorted({str(x) for x in v if v.count(x) > 1})):
        raise ValueError(f"must be distinct; repeated: {', '.join(dupes)}")
    return v


def _no_blank(v: str | None) -> str | None:
    if v is not None and not v.strip():
        raise ValueError("must not be empty or blank")
    return v


_SEED_MAX = 2**32 - 1  # numpy and torch seeds are 32-bit unsigned
_URL = re.compile(r"^https?://[^/\s?#]+[^\s]*$", re.IGNORECASE)


def _http_url(v: str | None) -> str | None:
    if v is not None and not _URL.match(v):
        raise ValueError("must be an http:// or https:// URL with a host, e.g. http://localhost:8000/v1")
    return v


LanguageCode = Annotated[str, AfterValidator(_check_language)]


class SourceSpec(_Model):
    """Where instruction data comes from.

    ``files``: local or ``s3://`` JSON, JSONL or parquet in Alpaca or Aya format; ``{lang}`` in
    ``path`` is replaced by the language code. ``aya``: the Aya Dataset on the Hugging Face hub
    (``dataset``, ``split``), the rows whose ``language_code`` is the language's ISO 639-3 code
    (spa, rus, zho, ...). ``released``: the paper authors' released sets (``path`` is the folder
    of ``aya_*.json`` files, laid out as in shared/data/MANIFEST.md); as a condition's source,
    ``system`` (google or cohere) picks the authors' translated or round-trip set.
    """

    kind: Literal["files", "aya", "released"] = "files"
    path: str | None = None
    dataset: str = "CohereForAI/aya_dataset"
    split: str = "train"
    system: Literal["google", "cohere"] | None = None  # released sets only: whose translations

    @field_validator("path")
    @classmethod
    def _resolve(cls, v: str | None, info: ValidationInfo) -> str | None:
        return None if v is None else _resolve_path(v, info)

    @model_validator(mode="after")
    def _needs_path(self) -> SourceSpec:
        if self.kind == "files" and not self.path:
            raise ValueError("kind 'files' needs a path, e.g. data/{lang}.jsonl")
        if self.kind == "released" and not self.path:
            raise ValueError("kind 'released' needs a path: the folder of the authors' aya_*.json files")
        if self.system is not None and self.kind != "released":
            raise ValueError(f"system is for kind 'released' only; kind {self.kind!r} takes none")
        return self

    def identity(self) -> dict[str, Any]:
        """The fields that decide which rows this source gives (what a step key needs)."""
        if self.kind == "aya":
            return {"kind": "aya", "dataset": self.dataset, "split": self.split}
        out: dict[str, Any] = {"kind": self.kind, "path": self.path}
        return out | ({"system": self.system} if self.system else {})


# The paper's multilingual mixture: these 8 languages × the smallest native size (PROTOCOL.md).
PAPER_MIXTURE = ("es", "ru", "zh", "ar", "de", "fi", "ga", "hi")


class MixtureSpec(_Model):
    """The multilingual mixture an arm with ``mode: multi`` trains on (PROTOCOL.md)."""

    languages: tuple[LanguageCode, ...] = Field(default=PAPER_MIXTURE, min_length=1)
    # Items per language; None = the smallest native sample among ``languages`` (paper: 241, de).
    size: int | None = Field(default=None, gt=0)

    @field_validator("languages")
    @classmethod
    def _distinct_not_pivot(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if "en" in v:
            raise ValueError("'en' is the pivot language and cannot be in the mixture")
        if len(set(v)) != len(v):
            raise ValueError("languages must be distinct")
        return v


class DataSpec(_Model):
    """Instruction data: the native source per language and the English pool to translate from."""

    native: SourceSpec
    english: SourceSpec
    # None = every native item, as the paper did (es 3,854, ru 423, zh 3,944).
    size: int | None = Field(default=None, gt=0)
    seed: int = Field(default=0, ge=0, le=_SEED_MAX)
    mixture: MixtureSpec = MixtureSpec()

    @model_validator(mode="after")
    def _no_system(self) -> DataSpec:
        if self.native.system or self.english.system:
            raise ValueError("data.native and data.english are untranslated: give them no system")
        return self


_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")
_REDACTED = "<redacted: not an environment variable name>"


class _KeyedByEnv(_Model):
    """A remote service's settings: its API key is named by environment variable, never given."""

    api_key_env: str | None = None  # NAME of the environment variable holding the key

    @model_validator(mode="before")
    @classmethod
    def _redact_keys(cls, data: Any) -> Any:
        """A literal key never reaches an error line or a log: it is replaced before checks."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for literal in ("api_key", "key", "token"):
            if literal in data:
                data[literal] = "***"
        env = data.get("api_key_env")
        if isinstance(env, str) and not _ENV_NAME.match(env):
            data["api_key_env"] = _REDACTED
        return data

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        if v is not None and not _ENV_NAME.match(v):
            raise ValueError("must be the NAME of an environment variable that holds the key "
                             "(e.g. GOOGLE_API_KEY), never the key itself")
        return v


class QualitySpec(_Model):
    """Checks on every translated field, and what to do with an item that fails one."""

    language_id: bool = True  # the result must be in the target language (texts of >= 20 letters)
    # Output/input length in characters, normalised by each language's typical density (zh ≈ 0.28
    # of English); checked on inputs of >= 20 characters. Bounds fit the authors' Google sets.
    min_length_ratio: float = Field(default=0.4, gt=0)
    max_length_ratio: float = Field(default=2.5, gt=0)
    # keep (the paper: nothing filtered) | drop the item | retry: translate it again, sampled,
    # up to `retries` times; an item still flagged after that is kept and counted.
    policy: Literal["keep", "drop", "retry"] = "keep"
    retries: int = Field(default=2, ge=1, le=10)

    @model_validator(mode="after")
    def _ordered(self) -> QualitySpec:
        if self.min_length_ratio >= self.max_length_ratio:
            raise ValueError("min_length_ratio must be below max_length_ratio")
        return self


class EngineSpec(_KeyedByEnv):
    """A translation engine, all behind one interface (``nativejobs.translation``).

    ``llm``: an instruction-following LLM with the paper's prompt (vLLM on GPU, transformers on
    CPU). ``google``: Cloud Translation v2 REST. ``openai``: any OpenAI-compatible chat endpoint
    (a vLLM server, a hosted model). ``seq2seq``: an NLLB/MADLAD-style model (transformers or
    CTranslate2). API keys are named by environment variable, never written here.
    """

    kind: Literal["llm", "google", "openai", "seq2seq"] = "llm"
    # hub id, local path or pypi:<package> (llm, seq2seq); the served model name (openai);
    # google: optional v2 `model` ("nmt" or "base").
    model: str | None = Field(default=None, min_length=1)
    # Segments per engine call: a generation batch, parallel requests (openai), or segments per
    # request (google: at most 128 per request by the v2 contract).
    batch_size: int = Field(default=8, gt=0)
    max_new_tokens: int = Field(default=512, gt=0)  # llm, openai, seq2seq
    # google: the v2 endpoint (default Google's); openai: the base URL, e.g. http://host:8000/v1
    endpoint: Annotated[str | None, AfterValidator(_http_url)] = None
    # The LLM prompt (llm, openai) with {src}, {tgt}, {text}; None = the paper's (PROTOCOL.md).
    prompt: str | None = None
    # field: each field whole (the paper); lines: line by line, list markers and indentation
    # kept (sentence-level MT models want this; the seq2seq default).
    segmentation: Literal["field", "lines"] | None = None
    # Fenced code blocks are copied, never translated (code is not prose; the paper's prompt
    # asks to preserve formatting).
    protect_code: bool = True
    code_style: Literal["nllb", "madlad"] = "nllb"  # seq2seq: language tags (spa_Latn | <2es>)
    backend: Literal["auto", "vllm", "transformers", "ctranslate2"] = "auto"
    tokenizer: str | None = None  # seq2seq with ctranslate2: the HF tokenizer (default: model)
    max_request_chars: int = Field(default=5000, gt=0, le=30000)  # google: docs recommend 5K
    quality: QualitySpec = QualitySpec()

    @model_validator(mode="after")
    def _fits_kind(self) -> EngineSpec:
        kind = self.kind
        if kind in ("llm", "openai", "seq2seq") and not self.model:
            raise ValueError(f"engine kind {kind!r} needs a model")
        if kind == "openai" and not self.endpoint:
            raise ValueError("engine kind 'openai' needs an endpoint (base URL, e.g. "
                             "http://localhost:8000/v1)")
        if kind == "google" and self.model not in (None, "nmt", "base"):
            raise ValueError("engine kind 'google' takes model 'nmt' or 'base' (or none)")
        if self.backend != "auto" and (kind, self.backend) not in _BACKENDS:
            raise ValueError(f"backend {self.backend!r} does not serve engine kind {kind!r}")
        if self.prompt is not None and not all(f"{{{k}}}" in self.prompt for k in ("src", "tgt", "text")):
            raise ValueError("prompt must contain {src}, {tgt} and {text}")
        return self


_BACKENDS = {("llm", "vllm"), ("llm", "transformers"), ("seq2seq", "transformers"),
             ("seq2seq", "ctranslate2")}


class ConditionSpec(_Model):
    """A data condition: the native data, or data made by an engine or read from a source.

    A translated or round-trip condition names an ``engine`` (the plan translates) or a
    ``source`` of finished translations (``released`` with a ``system``, or ``files``).
    """

    name: str = Field(pattern=_NAME)
    kind: Literal["native", "translated", "round_trip"] = "native"
    engine: str | None = None  # a key of `engines`
    source: SourceSpec | None = None

    @model_validator(mode="after")
    def _engine_matches_kind(self) -> ConditionSpec:
        if self.kind == "native" and (self.engine or self.source):
            raise ValueError(f"condition {self.name!r} is native and takes no engine or source")
        if self.kind != "native" and not (self.engine or self.source):
            raise ValueError(f"condition {self.name!r} of kind {self.kind} needs an engine "
                             "(or a source of finished translations)")
        if self.engine and self.source:
            raise ValueError(f"condition {self.name!r}: give an engine or a source, not both")
        if self.source is not None:
            if self.source.kind == "aya":
                raise ValueError(f"condition {self.name!r}: the Aya hub source holds no "
                                 "translations; use kind released or files")
            if self.source.kind == "released" and not self.source.system:
                raise ValueError(f"condition {self.name!r}: a released source needs a system "
                                 "(google or cohere)")
        return self


class ModelSpec(_Model):
    """A base model to fine-tune."""

    name: str = Field(pattern=_NAME)
    id: str = Field(min_length=1)  # hub id, local path, or pypi:<package> shipping a GGUF
    revision: str | None = None


class LoraSpec(_Model):
    """LoRA adapters on the frozen base (paper §4.1)."""

    r: int = Field(default=8, gt=0)  # paper: r 8
    alpha: int = Field(default=16, gt=0)  # paper: alpha 16
    dropout: float = Field(default=0.05, ge=0, lt=1)  # paper: 0.05
    # paper: q, k, v (PEFT's default would be q, v only)
    target_modules: Annotated[tuple[Annotated[str, Field(min_length=1)], ...],
                              AfterValidator(_distinct)] = Field(
        default=("q_proj", "k_proj", "v_proj"), min_length=1)


_SPEED_AUTO = ("kernels", "compile")  # TrainingSpec fields whose 'auto' is left out of dumps


class TrainingSpec(_Model):
    """The LoRA recipe shared by every arm.

    Defaults are the paper's (§4.1); where it is silent, the authors' earlier training code
    (hplt-project/monolingual-multilingual-instruction-tuning, ``loraft/finetune.py``: Alpaca
    template, transformers Trainer, 100 warm-up steps then linear decay, AdamW).
    """

    epochs: int = Field(default=10, gt=0)  # paper: up to 10, best held-out epoch kept
    # Stop after this many epochs without a better held-out perplexity; None = every epoch (paper).
    patience: int | None = Field(default=None, gt=0)
    effective_batch_size: int = Field(default=64, gt=0)  # paper: 64 examples per optimizer step
    # Examples per forward pass; gradient accumulation makes up the rest. None = chosen for the
    # memory at hand (largest divisor of effective_batch_size that fits; recorded in the metrics).
    micro_batch_size: int | None = Field(default=None, gt=0)
    # Tokens per example; longer ones keep their start and are counted in the metrics. The
    # authors' code cut at 256, which truncates many Aya answers.
    max_length: int = Field(default=1024, gt=16)
    template: Literal["alpaca", "chat"] = "alpaca"  # paper: very likely Alpaca
    heldout_fraction: float = Field(default=0.05, ge=0, le=0.5)  # paper: size not stated
    lora: LoraSpec = LoraSpec()
    # paper: frozen base in 8-bit. 8-bit needs CUDA and bitsandbytes; without them the base is
    # loaded in bf16 (CUDA) or fp32 (CPU) and the metrics say so. bf16 is faster on H100-class GPUs.
    base_precision: Literal["int8", "bfloat16", "float32"] = "int8"
    lr_scheduler: Literal["linear", "constant", "cosine"] = "linear"  # authors' code: linear
    warmup_steps: int = Field(default=100, ge=0)  # authors' code: 100 (longer than a ru run)
    weight_decay: float = Field(default=0.0, ge=0)  # authors' code: 0 (Trainer default)
    max_grad_norm: float = Field(default=1.0, ge=0)  # authors' code: 1.0 (Trainer default); 0 = off
    # Padding-free packed micro-batches with attention isolated per sequence. False = one padded
    # row per example (the naive layout; slower, same result).
    packing: bool = True
    # Row length of a packed micro-batch under SDPA/eager/flex attention (at least max_length).
    # Their block masks cost attention over the whole row, so shorter rows waste less; longer
    # ones pad less. Flash attention packs a micro-batch into one varlen row instead.
    pack_tokens: int = Field(default=1024, gt=0)
    attention: Literal["auto", "sdpa", "eager", "flex_attention", "flash_attention_2"] = "auto"
    # Recompute activations in the backward pass: ~30% more compute, far less memory, so larger
    # micro-batches fit.
    gradient_checkpointing: bool = False
    # Speed only (same loss and gradients up to rounding; nativejobs.training.speed). 'auto' and
    # what it became are recorded in the metrics, and 'auto' stays out of the step key.
    # Liger's fused RMSNorm/SwiGLU/RoPE/linear cross-entropy: faster and no logits in memory;
    # needs CUDA and liger-kernel (the gpu extra). auto: liger where it can run, else none.
    kernels: Literal["auto", "liger", "none"] = "auto"
    # torch.compile of each decoder layer: fuses elementwise work, costs compile time (minutes
    # on a 7B) at the start of every attempt. auto: none (not yet measured to pay).
    compile: Literal["auto", "layers", "none"] = "auto"
    # Also at every epoch end. A preempted step loses at most this many optimizer steps.
    checkpoint_every_steps: int = Field(default=25, gt=0)
    seed: int = Field(default=0, ge=0, le=_SEED_MAX)

    @model_validator(mode="after")
    def _micro_divides_effective(self) -> TrainingSpec:
        if self.micro_batch_size and self.effective_batch_size % self.micro_batch_size:
            raise ValueError(f"micro_batch_size {self.micro_batch_size} must divide "
                             f"effective_batch_size {self.effective_batch_size}")
        if self.patience and not self.heldout_fraction:
            raise ValueError(f"patience {self.patience} needs held-out data to measure: set "
                             "heldout_fraction > 0, or patience: null")
        return self

    @model_serializer(mode="wrap")
    def _auto_speed_left_out(self, handler: Any) -> dict[str, Any]:
        """Speed settings left at 'auto' stay out of dumps, so the train steps' keys stay as
        they were before these settings existed."""
        return {k: v for k, v in handler(self).items() if k not in _SPEED_AUTO or v != "auto"}


class ArmSpec(_Model):
    """A training arm: learning rate and data mode.

    ``mono``: one adapter per target language, on that language's data. ``multi``: one adapter
    per condition on the multilingual mixture (``data.mixture``), evaluated on every target
    language (PROTOCOL.md: 8 languages × the smallest size).
    """

    name: str = Field(pattern=_NAME)
    lr: float = Field(gt=0)
    mode: Literal["mono", "multi"] = "mono"
    # Names of the conditions this arm trains; None = every condition.
    conditions: Annotated[tuple[str, ...] | None, AfterValidator(_distinct)] = Field(
        default=None, min_length=1)


_CHAT_FIELDS = {"model", "messages", "max_tokens", "temperature", "stream", "n"}


class JudgeSpec(_KeyedByEnv):
    """An LLM judge of open-ended answers: single-answer 1–5 Likert grading (MT-Bench style).

    ``openai``: any OpenAI-compatible chat endpoint (the paper: GPT-4-Turbo and Command R+ by
    API, April 2024). ``local``: a model loaded in the judge step (hub id, local path or
    ``pypi:<package>``, as models and engines). The API key is named by environment variable
    (a Secret on the cluster), never written here.
    """

    kind: Literal["openai", "local"]
    model: str = Field(min_length=1)  # the served model name (openai); what to load (local)
    # openai: the API root, e.g. https://api.openai.com/v1
    base_url: Annotated[str | None, AfterValidator(_http_url)] = None
    revision: str | None = None  # local: the hub revision
    temperature: float = Field(default=0.0, ge=0, le=2)  # research notes §7: 0, deterministic
    max_tokens: int = Field(default=512, gt=0)  # a brief explanation and [[rating]] fit easily
    # Verdicts without a readable [[1-5]] are asked again (with a nudge) this many times, then
    # recorded as unparsable with the raw text.
    retries: int = Field(default=2, ge=0, le=10)
    batch_size: int = Field(default=8, gt=0)  # parallel requests (openai), generation batch (local)
    # openai: server-specific request fields merged into every request, e.g. constrained
    # decoding that makes a small self-hosted judge always end in [[N]]: llama.cpp's `grammar`,
    # vLLM's `guided_regex`. None for hosted judges (the paper sent the prompt alone).
    extra_body: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _fits_kind(self) -> JudgeSpec:
        if self.extra_body is not None and self.kind != "openai":
            raise ValueError("extra_body is for judge kind 'openai' only")
        if taken := sorted(set(self.extra_body or {}) & _CHAT_FIELDS):
            raise ValueError(f"extra_body may not set {', '.join(taken)}: the judge sets them")
        if self.kind == "openai" and not self.base_url:
            raise ValueError("judge kind 'openai' needs a base_url (e.g. https://api.openai.com/v1)")
        if self.kind == "local" and (self.base_url or self.api_key_env):
            raise ValueError("judge kind 'local' loads its model here; give it no base_url or "
                             "api_key_env")
        if self.kind == "openai" and self.revision:
            raise ValueError("revision is for judge kind 'local' only")
        return self


BenchmarkKind = Literal["tydiqa", "cmmlu", "ceval", "xquad", "mgsm", "okapi_mmlu", "mmmlu",
                        "open_qa"]
_GENERATIVE = ("tydiqa", "xquad", "mgsm", "open_qa")
# The project's own pre-harness kinds, removed: the harness kind that scores the same files.
_REMOVED_KINDS = {"extractive_qa": "xquad (or tydiqa)", "math_cot": "mgsm",
                  "multiple_choice": "cmmlu (or ceval, okapi_mmlu, mmmlu)"}


class BenchmarkSpec(_Model):
    """A benchmark; ``{lang}`` in paths is replaced by the language.

    Kinds ``tydiqa``, ``cmmlu``, ``ceval``, ``xquad``, ``mgsm``, ``okapi_mmlu`` (machine-translated
    MMLU) and ``mmmlu`` (human-translated MMLU) run through lm-evaluation-harness with the
    paper's tasks and shots (``nativejobs.benchmarks.catalog``). Their data comes from the hub
    by default (``dataset``/``revision`` pick another id or revision); ``path`` and ``dev_path``
    replace it with local or ``s3://`` files in the upstream format: a file, a folder or a glob
    (CMMLU and C-Eval: one file per subject; every subject found is scored, with a per-subject
    and an aggregate score). ``open_qa``:
    open-ended questions (JSON lines of ``id`` and ``prompt``), answered in the fine-tuning
    template and rated by the LLM ``judges`` (the judge step).
    """

    name: str = Field(pattern=_NAME)
    kind: BenchmarkKind
    path: str | None = None  # None: the hub (harness kinds only)
    dev_path: str | None = None  # few-shot examples (MGSM exemplars, CMMLU dev, TyDi QA train)
    dataset: str | None = Field(default=None, min_length=1)  # harness kinds: another hub id
    revision: str | None = Field(default=None, min_length=1)  # harness kinds: a hub revision
    # None = every spec language
    languages: Annotated[tuple[LanguageCode, ...] | None, AfterValidator(_distinct)] = Field(
        default=None, min_length=1)
    # Default: the paper's for harness kinds (TyDi QA 1, XQuAD 0, the others 5; PROTOCOL.md), else 0.
    shots: int = Field(default=0, ge=0)
    # First items of each task (of each subject, for CMMLU, C-Eval and MMMLU); None = all.
    limit: int | None = Field(default=None, gt=0)
    # None = the benchmark's own cap (MGSM: 256, which can cut a long chain of thought; open_qa:
    # 256, the authors' generate.py)
    max_new_tokens: int | None = Field(default=None, gt=0)
    # harness kinds: prompts in the model's chat template, few-shot turns as a conversation.
    # The paper evaluated base models without one (lm-eval's default).
    chat_template: bool = False
    # open_qa: names of the judges (keys of `judges`) that rate the answers; None = every judge
    judges: Annotated[tuple[str, ...] | None, AfterValidator(_distinct)] = Field(
        default=None, min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _paper_shots(cls, data: Any) -> Any:
        if (isinstance(data, dict) and "shots" not in data and isinstance(data.get("kind"), str)
                and data["kind"] in HARNESS_KINDS):
            return {**data, "shots": harness_benchmark(data["kind"]).shots}
        return data

    @field_validator("kind", mode="before")
    @classmethod
    def _not_removed(cls, v: Any) -> Any:
        if isinstance(v, str) and v in _REMOVED_KINDS:
            raise ValueError(f"kind {v} was removed; use kind {_REMOVED_KINDS[v]}, which "
                             "lm-evaluation-harness scores")
        return v

    @field_validator("path", "dev_path")
    @classmethod
    def _resolve(cls, v: str | None, info: ValidationInfo) -> str | None:
        return None if v is None else _resolve_path(v, info)

    @model_validator(mode="after")
    def _shots_need_dev(self) -> BenchmarkSpec:
        if self.kind == "open_qa" and (self.shots or self.dev_path):
            raise ValueError(f"benchmark {self.name!r} of kind open_qa is zero-shot; give it no "
                             "shots or dev_path")
        problem = self._harness_problem() if self.kind in HARNESS_KINDS else self._open_qa_problem()
        if problem:
            raise ValueError(f"benchmark {self.name!r}: {problem}")
        if self.judges is not None and self.kind != "open_qa":
            raise ValueError(f"benchmark {self.name!r}: judges are for kind open_qa only")
        if self.max_new_tokens is not None and self.kind not in _GENERATIVE:
            raise ValueError(f"benchmark {self.name!r}: kind {self.kind} is scored by "
                             "log-likelihood and generates nothing; remove max_new_tokens")
        return self

    def _open_qa_problem(self) -> str | None:
        if self.path is None:
            return "kind open_qa reads files; give a path"
        if self.dataset or self.revision or self.chat_template:
            return "dataset, revision and chat_template are for the lm-eval kinds only"
        return None

    def _harness_problem(self) -> str | None:
        entry = harness_benchmark(self.kind)
        if self.languages and (missing := sorted(set(self.languages) - set(entry.languages))):
            return (f"kind {self.kind} has no task in {', '.join(missing)}; "
                    f"its languages: {', '.join(entry.languages)}")
        if self.path is None:
            return "dev_path needs a path (the test files) too" if self.dev_path else None
        if self.dataset or self.revision:
            return "dataset and revision pick a hub dataset; give them or a path, not both"
        if self.dev_path and entry.fewshot_split is None:
            return (f"kind {self.kind} takes its few-shot examples from its {entry.eval_split} "
                    "split; give no dev_path")
        if self.shots and entry.fewshot_split and not self.dev_path:
            return (f"has shots {self.shots} but no dev_path (the {entry.fewshot_split} split "
                    "the few-shot examples come from)")
        return None

    def judge_names(self, judges: dict[str, JudgeSpec]) -> tuple[str, ...]:
        """The judges that rate this benchmark (none unless it is open_qa)."""
        if self.kind != "open_qa":
            return ()
        return self.judges if self.judges is not None else tuple(judges)


class ResourceSpec(_Model):
    """What one step's job asks the cluster for (the local backend ignores it)."""

    gpus: int = Field(default=0, ge=0)
    cpu: str = "2"
    memory: str = "8Gi"
    # Expected GPU-hours of one step of this kind, for `nativejobs plan`'s estimate (paper: a
    # LoRA run took 1–7 GPU-hours on a 3090/A100). Remote-engine translations count none.
    gpu_hours_per_step: float = Field(default=0.0, ge=0)


class ExecutionSpec(_Model):
    max_parallel: int = Field(default=2, gt=0)  # steps running at once
    retries: int = Field(default=2, ge=0)  # extra attempts for a retryable failure
    step_timeout_minutes: int = Field(default=24 * 60, gt=0, le=366 * 24 * 60)  # a Job's deadline


class ExperimentSpec(_Model):
    """The whole study."""

    name: str = Field(pattern=_NAME)
    store: str | None = None  # default: $NATIVEJOBS_STORE, else ./.nativejobs/store
    languages: Annotated[tuple[LanguageCode, ...], AfterValidator(_distinct)] = Field(min_length=1)
    data: DataSpec
    engines: dict[str, EngineSpec] = {}
    # LLM judges of open_qa answers by name (the metric is judge_<name>_total); the paper had
    # two, GPT-4-Turbo and Command R+ (see examples/paper.yaml).
    judges: dict[Annotated[str, Field(pattern=_NAME)], JudgeSpec] = {}
    conditions: tuple[ConditionSpec, ...] = Field(min_length=1)
    models: tuple[ModelSpec, ...] = Field(min_length=1)
    training: TrainingSpec = TrainingSpec()
    arms: tuple[ArmSpec, ...] = Field(default=(ArmSpec(name="lr-1e-4", lr=1e-4),), min_length=1)
    benchmarks: tuple[BenchmarkSpec, ...] = Field(min_length=1)
    resources: dict[StepKind, ResourceSpec] = {}
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
        if v is None:
            return None
        if problem := location_problem(v, schemes=("file", "s3")):
            raise ValueError(problem)
        return _resolve_path(v.removeprefix("file://"), info)

    def store_uri(self) -> str:
        """Where this experiment's artifacts live."""
        return self.store or default_store_uri()

    def resources_for(self, kind: str) -> ResourceSpec:
        return self.resources.get(kind, ResourceSpec())  # type: ignore[call-overload]


def default_store_uri() -> str:
    """The store when neither the spec nor --store names one."""
    return os.environ.get("NATIVEJOBS_STORE") or str(Path(".nativejobs/store").resolve())


NAME_RULE = ("string should match the name pattern: 1-40 lowercase letters, digits or '-', "
             "starting and ending with a letter or digit (it names Jobs and store paths)")
_MAX_PROBLEMS = 30  # lines of one SpecError; the rest are counted


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part != "[key]" and not str(part).startswith(("function-", "function_")):
            name = short_text(str(part), 60)
            out += f".{name}" if out else name
    return out or "(top level)"


def _line(err: Any) -> str:
    loc, msg, kind = _loc(err["loc"]), str(err["msg"]), err["type"]
    msg = short_text(re.sub(r"^(Value error|Assertion failed), ", "", msg), 300)
    if kind == "extra_forbidden":
        return f"{loc}: unknown key; remove it or fix its spelling"
    if kind == "missing":
        return f"{loc}: required key is missing"
    if kind == "string_pattern_mismatch" and (err.get("ctx") or {}).get("pattern") == _NAME:
        msg = NAME_RULE
    return f"{loc}: got {short_repr(err.get('input'))}; {msg[0].lower() + msg[1:] if msg else 'invalid'}"


def _items(doc: dict[str, Any], field: str) -> list[dict[str, Any]]:
    value = doc.get(field)
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


def _names(keys: Any) -> str:
    """A short, readable list of the names defined under a mapping."""
    names = sorted(short_text(str(k), 40) for k in keys)
    return ", ".join(names[:12] + ([f"... ({len(names)} in all)"] if len(names) > 12 else []))


def _str_keys(value: Any) -> set[str]:
    return {k for k in value if isinstance(k, str)} if isinstance(value, dict) else set()


def _cross_reference_problems(doc: dict[str, Any]) -> list[str]:
    """Problems between fields, found on the raw document so they show beside field errors.

    Only values of the right type are compared: a wrong type has its own field error.
    """
    engines = _str_keys(doc.get("engines"))
    problems = [
        f"conditions[{i}].engine: got {short_repr(c['engine'])}; must be one of the engines: "
        f"{_names(engines) or '(none defined)'}"
        for i, c in enumerate(_items(doc, "conditions"))
        if isinstance(c.get("engine"), str) and c["engine"] not in engines
    ]
    names = {c["name"] for c in _items(doc, "conditions") if isinstance(c.get("name"), str)}
    problems += [
        f"arms[{i}].conditions: got {short_repr(a['conditions'])}; each must be one of the "
        f"conditions: {_names(names)}"
        for i, a in enumerate(_items(doc, "arms"))
        if isinstance(a.get("conditions"), list)
        and not {x for x in a["conditions"] if isinstance(x, str)} <= names
    ]
    problems += _judge_problems(doc) + _benchmark_language_problems(doc)
    for field in ("conditions", "models", "arms", "benchmarks"):
        found = [item["name"] for item in _items(doc, field) if isinstance(item.get("name"), str)]
        if dupes := sorted({n for n in found if found.count(n) > 1}):
            problems.append(f"{field}: names must be unique; repeated: {_names(dupes)}")
    return problems


def _judge_problems(doc: dict[str, Any]) -> list[str]:
    """open_qa benchmarks name defined judges, and have at least one."""
    judges = _str_keys(doc.get("judges"))
    known = _names(judges) or "(none defined)"
    problems = []
    for i, b in enumerate(_items(doc, "benchmarks")):
        named = b.get("judges")
        if isinstance(named, list) and any(isinstance(j, str) and j not in judges for j in named):
            problems.append(f"benchmarks[{i}].judges: got {short_repr(named)}; each must be one "
                            f"of the judges: {known}")
        elif b.get("kind") == "open_qa" and named is None and not doc.get("judges"):
            problems.append(f"benchmarks[{i}]: kind open_qa is rated by LLM judges; define one "
                            "under judges (kind openai or local)")
    return problems


def _benchmark_language_problems(doc: dict[str, Any]) -> list[str]:
    """A harness benchmark without ``languages`` runs in every spec language: it needs them all."""
    langs = doc.get("languages") if isinstance(doc.get("languages"), list) else []
    # an unknown code, or one of the wrong type, has its own error already
    langs = [x for x in langs if isinstance(x, str) and x in LANGUAGES]
    problems = []
    for i, b in enumerate(_items(doc, "benchmarks")):
        kind = b.get("kind")
        if isinstance(kind, str) and kind in HARNESS_KINDS and b.get("languages") is None:
            have = harness_benchmark(kind).languages
            if missing := sorted(set(langs) - set(have)):
                problems.append(f"benchmarks[{i}].languages: kind {kind} has no task in "
                                f"{', '.join(missing)}; list the languages to run it in, from: "
                                f"{', '.join(have)}")
    return problems


def _capped(problems: list[str]) -> list[str]:
    more = len(problems) - _MAX_PROBLEMS
    return problems[:_MAX_PROBLEMS] + ([f"... and {more} more problems"] if more > 0 else [])


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
        raise SpecError(_capped(_field_problems(e) + problems)) from None
    except RecursionError:  # pydantic on a pathological nesting the reader let through
        raise SpecError(["(top level): the spec is nested too deeply"]) from None
    if problems:
        raise SpecError(_capped(problems))
    return spec


def load_spec(path: Path) -> ExperimentSpec:
    """Read and validate a YAML spec; relative paths in it are relative to its folder.

    Raises: SpecError if the file is unreadable, not YAML, or invalid.
    """
    return parse_spec(read_yaml(path, "the spec"), base_dir=path.resolve().parent)


# A spec is written by hand: a few kB. These bounds keep a hostile or broken file cheap to refuse.
# PyYAML parses in pure Python (~100k values/s here), so the bounds also bound the time spent.
MAX_YAML_BYTES = 512 * 1024
MAX_YAML_NODES = 10_000  # values after anchors are expanded (paper.yaml: ~600)
MAX_YAML_DEPTH = 64
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses duplicate keys and anchors that expand without bound."""

    def compose_document(self) -> Any:
        node = super().compose_document()
        _check_expansion(node)
        return node

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._composed = getattr(self, "_composed", 0) + 1  # stop early, before all is parsed
        if self._composed > MAX_YAML_NODES:
            raise yaml.composer.ComposerError(None, None, f"more than {MAX_YAML_NODES:,} values; "
                                              "is it the right file?", self.peek_event().start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: set[tuple[str, str]] = set()
            for key, _ in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != _MERGE_TAG:
                    if (key.tag, key.value) in seen:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"duplicate key {short_repr(key.value)}; give each key once",
                            key.start_mark)
                    seen.add((key.tag, key.value))
        return super().construct_mapping(node, deep=deep)


def _check_expansion(root: Any) -> None:
    """Refuse a node graph that loops (a self-referencing anchor) or expands past the budget."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Any, depth: int) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in active:
            raise yaml.composer.ComposerError(None, None, "an anchor refers to itself",
                                              node.start_mark)
        if depth > MAX_YAML_DEPTH:
            raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_YAML_DEPTH} "
                                              "levels", node.start_mark)
        active.add(id(node))
        children = ([n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode)
                    else node.value if isinstance(node, yaml.SequenceNode) else [])
        total = 1
        for child in children:
            total += size(child, depth + 1)
            if total > MAX_YAML_NODES:
                raise yaml.composer.ComposerError(
                    None, None, f"anchors and aliases expand to more than {MAX_YAML_NODES:,} "
                    "values; write the document out or use fewer aliases", node.start_mark)
        active.discard(id(node))
        sizes[id(node)] = total
        return total

    if root is not None:
        size(root, 0)


def _bracket_depth(text: str) -> int:
    """How deep ``[``/``{`` nest, counting brackets in strings too (an upper bound, cheaply)."""
    depth = deepest = 0
    for ch in re.sub(r"[^\[\]{}]+", "", text):
        depth = depth + 1 if ch in "[{" else max(depth - 1, 0)
        deepest = max(deepest, depth)
    return deepest


def _read_text(path: Path, what: str) -> str:
    """The file as text: at most MAX_YAML_BYTES, UTF-8. Raises: SpecError (one line)."""
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_YAML_BYTES + 1)
    except OSError as e:
        raise SpecError([f"{short_text(str(path))}: cannot read {what} ({e.strerror or e})"]) from e
    if len(data) > MAX_YAML_BYTES:
        raise SpecError([f"{short_text(str(path))}: {what} is larger than "
                         f"{MAX_YAML_BYTES // 1024} KiB; is it the right file?"])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise SpecError([f"{short_text(str(path))} line {line}: {what} is not UTF-8 (byte "
                         f"{e.start}: {data[e.start:e.start + 1]!r}); save it as UTF-8"]) from None


def read_yaml(path: Path, what: str) -> Any:
    """The YAML document in ``path``: UTF-8, no duplicate keys, anchors within a node budget.

    Raises: SpecError (one line) if unreadable, not UTF-8, not YAML, or too large.
    """
    text = _read_text(path, what)
    if _bracket_depth(text) > 4 * MAX_YAML_DEPTH:  # PyYAML's scanner is quadratic in flow depth
        raise SpecError([f"{short_text(str(path))}: {what} is nested deeper than {MAX_YAML_DEPTH} "
                         "levels"])
    try:
        return yaml.load(text, Loader=_BoundedLoader)  # a SafeLoader subclass
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = short_text(str(getattr(e, "problem", None) or e))
        raise SpecError([f"{short_text(str(path))}{where}: not valid YAML ({problem})"]) from None
    except RecursionError:
        raise SpecError([f"{short_text(str(path))}: {what} is nested too deeply"]) from None
