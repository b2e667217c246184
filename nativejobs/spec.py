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

from nativejobs.benchmarks.catalog import HARNESS_KINDS, harness_benchmark
from nativejobs.errors import SpecError
from nativejobs.languages import LANGUAGES

__all__ = [
    "PAPER_MIXTURE", "ArmSpec", "BenchmarkSpec", "ConditionSpec", "DataSpec", "EngineSpec",
    "ExecutionSpec", "ExperimentSpec", "JudgeSpec", "LoraSpec", "MixtureSpec", "ModelSpec",
    "QualitySpec", "ResourceSpec", "SourceSpec", "TrainingSpec",
    "default_store_uri", "load_spec", "parse_spec",
]

STEP_KINDS = ("prepare", "translate", "train", "evaluate", "judge", "summarize")
StepKind = Literal["prepare", "translate", "train", "evaluate", "judge", "summarize"]
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
    seed: int = 0
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
    endpoint: str | None = None
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
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj")


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
    # Also at every epoch end. A preempted step loses at most this many optimizer steps.
    checkpoint_every_steps: int = Field(default=25, gt=0)
    seed: int = 0

    @model_validator(mode="after")
    def _micro_divides_effective(self) -> TrainingSpec:
        if self.micro_batch_size and self.effective_batch_size % self.micro_batch_size:
            raise ValueError(f"micro_batch_size {self.micro_batch_size} must divide "
                             f"effective_batch_size {self.effective_batch_size}")
        if self.patience and not self.heldout_fraction:
            raise ValueError(f"patience {self.patience} needs held-out data to measure: set "
                             "heldout_fraction > 0, or patience: null")
        return self


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
    conditions: tuple[str, ...] | None = Field(default=None, min_length=1)


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
    base_url: str | None = None  # openai: the API root, e.g. https://api.openai.com/v1
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


_OWN_KINDS = ("extractive_qa", "math_cot", "multiple_choice")  # the project's own implementations
BenchmarkKind = Literal["tydiqa", "cmmlu", "ceval", "xquad", "mgsm", "okapi_mmlu", "mmmlu",
                        "extractive_qa", "math_cot", "multiple_choice", "open_qa"]
_GENERATIVE = ("tydiqa", "xquad", "mgsm", "extractive_qa", "math_cot", "open_qa")


class BenchmarkSpec(_Model):
    """A benchmark; ``{lang}`` in paths is replaced by the language.

    Kinds ``tydiqa``, ``cmmlu``, ``ceval``, ``xquad``, ``mgsm``, ``okapi_mmlu`` (machine-translated
    MMLU) and ``mmmlu`` (human-translated MMLU) run through lm-evaluation-harness with the
    paper's tasks and shots (``nativejobs.benchmarks.catalog``). Their data comes from the hub
    by default (``dataset``/``revision`` pick another id or revision); ``path`` and ``dev_path``
    replace it with local or ``s3://`` files in the upstream format: a file, a folder or a glob
    (CMMLU and C-Eval: one file per subject; every subject found is scored, with a per-subject
    and an aggregate score). ``extractive_qa``, ``math_cot`` and ``multiple_choice`` are the
    project's own implementations of XQuAD, MGSM and CMMLU prompts on files. ``open_qa``:
    open-ended questions (JSON lines of ``id`` and ``prompt``), answered in the fine-tuning
    template and rated by the LLM ``judges`` (the judge step).
    """

    name: str = Field(pattern=_NAME)
    kind: BenchmarkKind
    path: str | None = None  # None: the hub (harness kinds only)
    dev_path: str | None = None  # few-shot examples (MGSM exemplars, CMMLU dev, TyDi QA train)
    dataset: str | None = Field(default=None, min_length=1)  # harness kinds: another hub id
    revision: str | None = Field(default=None, min_length=1)  # harness kinds: a hub revision
    languages: tuple[LanguageCode, ...] | None = None  # None = every spec language
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
    judges: tuple[str, ...] | None = Field(default=None, min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _paper_shots(cls, data: Any) -> Any:
        if isinstance(data, dict) and "shots" not in data and data.get("kind") in HARNESS_KINDS:
            return {**data, "shots": harness_benchmark(data["kind"]).shots}
        return data

    @field_validator("path", "dev_path")
    @classmethod
    def _resolve(cls, v: str | None, info: ValidationInfo) -> str | None:
        return None if v is None else _resolve_path(v, info)

    @model_validator(mode="after")
    def _shots_need_dev(self) -> BenchmarkSpec:
        if self.kind == "open_qa" and (self.shots or self.dev_path):
            raise ValueError(f"benchmark {self.name!r} of kind open_qa is zero-shot; give it no "
                             "shots or dev_path")
        problem = (self._harness_problem() if self.kind in HARNESS_KINDS else self._own_problem())
        if problem:
            raise ValueError(f"benchmark {self.name!r}: {problem}")
        if self.judges is not None and self.kind != "open_qa":
            raise ValueError(f"benchmark {self.name!r}: judges are for kind open_qa only")
        if self.max_new_tokens is not None and self.kind not in _GENERATIVE:
            raise ValueError(f"benchmark {self.name!r}: kind {self.kind} is scored by "
                             "log-likelihood and generates nothing; remove max_new_tokens")
        return self

    def _own_problem(self) -> str | None:
        if self.path is None:
            return f"kind {self.kind} reads files; give a path"
        if self.dataset or self.revision or self.chat_template:
            return "dataset, revision and chat_template are for the lm-eval kinds only"
        if self.shots and not self.dev_path:
            return f"has shots {self.shots} but no dev_path"
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
    step_timeout_minutes: int = Field(default=24 * 60, gt=0)


class ExperimentSpec(_Model):
    """The whole study."""

    name: str = Field(pattern=_NAME)
    store: str | None = None  # default: $NATIVEJOBS_STORE, else ./.nativejobs/store
    languages: tuple[LanguageCode, ...] = Field(min_length=1)
    data: DataSpec
    engines: dict[str, EngineSpec] = {}
    # LLM judges of open_qa answers by name (the metric is judge_<name>_total); the paper had
    # two, GPT-4-Turbo and Command R+ (see examples/paper.yaml).
    judges: dict[Annotated[str, Field(pattern=_NAME)], JudgeSpec] = {}
    conditions: tuple[ConditionSpec, ...] = Field(min_length=1)
    models: tuple[ModelSpec, ...] = Field(min_length=1)
    training: TrainingSpec = TrainingSpec()
    arms: tuple[ArmSpec, ...] = (ArmSpec(name="lr-1e-4", lr=1e-4),)
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
        return None if v is None else _resolve_path(v.removeprefix("file://"), info)

    def store_uri(self) -> str:
        """Where this experiment's artifacts live."""
        return self.store or default_store_uri()

    def resources_for(self, kind: str) -> ResourceSpec:
        return self.resources.get(kind, ResourceSpec())  # type: ignore[call-overload]


def default_store_uri() -> str:
    """The store when neither the spec nor --store names one."""
    return os.environ.get("NATIVEJOBS_STORE") or str(Path(".nativejobs/store").resolve())


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part != "[key]" and not str(part).startswith(("function-", "function_")):
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
    names = {str(c.get("name")) for c in _items(doc, "conditions")}
    problems += [
        f"arms[{i}].conditions: got {a['conditions']!r}; each must be one of the conditions: "
        f"{', '.join(sorted(names))}"
        for i, a in enumerate(_items(doc, "arms"))
        if isinstance(a.get("conditions"), list) and not set(map(str, a["conditions"])) <= names
    ]
    problems += _judge_problems(doc) + _benchmark_language_problems(doc)
    for field in ("conditions", "models", "arms", "benchmarks"):
        names = [str(item.get("name")) for item in _items(doc, field) if "name" in item]
        if dupes := sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"{field}: names must be unique; repeated: {', '.join(dupes)}")
    return problems


def _judge_problems(doc: dict[str, Any]) -> list[str]:
    """open_qa benchmarks name defined judges, and have at least one."""
    judges = doc.get("judges") if isinstance(doc.get("judges"), dict) else {}
    known = ", ".join(sorted(map(str, judges))) or "(none defined)"
    problems = []
    for i, b in enumerate(_items(doc, "benchmarks")):
        named = b.get("judges")
        if isinstance(named, list) and any(j not in judges for j in named):
            problems.append(f"benchmarks[{i}].judges: got {named!r}; each must be one of the "
                            f"judges: {known}")
        elif b.get("kind") == "open_qa" and named is None and not judges:
            problems.append(f"benchmarks[{i}]: kind open_qa is rated by LLM judges; define one "
                            "under judges (kind openai or local)")
    return problems


def _benchmark_language_problems(doc: dict[str, Any]) -> list[str]:
    """A harness benchmark without ``languages`` runs in every spec language: it needs them all."""
    langs = doc.get("languages") if isinstance(doc.get("languages"), list) else []
    langs = [x for x in langs if x in LANGUAGES]  # an unknown code has its own error already
    problems = []
    for i, b in enumerate(_items(doc, "benchmarks")):
        if b.get("kind") in HARNESS_KINDS and b.get("languages") is None:
            have = harness_benchmark(str(b["kind"])).languages
            if missing := sorted({str(x) for x in langs} - set(have)):
                problems.append(f"benchmarks[{i}].languages: kind {b['kind']} has no task in "
                                f"{', '.join(missing)}; list the languages to run it in, from: "
                                f"{', '.join(have)}")
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
    return parse_spec(read_yaml(path, "the spec"), base_dir=path.resolve().parent)


def read_yaml(path: Path, what: str) -> Any:
    """The YAML document in ``path``. Raises: SpecError (one line) if unreadable or not YAML."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise SpecError([f"{path}: cannot read {what} ({e.strerror})"]) from e
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise SpecError([f"{path}{where}: not valid YAML ({getattr(e, 'problem', e)})"]) from e
