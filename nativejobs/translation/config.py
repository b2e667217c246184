"""What a translate step knows of its engine: the spec's ``EngineSpec`` as step parameters.

Steps do not import the spec (DESIGN.md: ``steps → {engines, store}``); these models mirror
``nativejobs.spec.EngineSpec`` and ``QualitySpec`` field for field, defaults included.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["PAPER_PROMPT", "EngineConfig", "QualityConfig"]

# The paper's prompt for LLM translation (Command R), PROTOCOL.md.
PAPER_PROMPT = ("Please translate from {src} to {tgt}. Do your best to preserve the formatting. "
                "The following content should and should only be translated.\n\n{text}")


class QualityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    language_id: bool = True
    min_length_ratio: float = 0.4
    max_length_ratio: float = 2.5
    policy: Literal["keep", "drop", "retry"] = "keep"
    retries: int = 2


class EngineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["llm", "google", "openai", "seq2seq"] = "llm"
    model: str | None = None
    batch_size: int = 8
    max_new_tokens: int = 512
    endpoint: str | None = None
    api_key_env: str | None = None
    prompt: str | None = None
    segmentation: Literal["field", "lines"] | None = None
    protect_code: bool = True
    code_style: Literal["nllb", "madlad"] = "nllb"
    backend: Literal["auto", "vllm", "transformers", "ctranslate2"] = "auto"
    tokenizer: str | None = None
    max_request_chars: int = 5000
    quality: QualityConfig = QualityConfig()

    @property
    def prompt_template(self) -> str:
        return self.prompt or PAPER_PROMPT

    @property
    def split_mode(self) -> Literal["field", "lines"]:
        """Whole fields for LLM-style engines (the paper), lines for sentence-level MT models."""
        if self.segmentation is not None:
            return self.segmentation
        return "lines" if self.kind == "seq2seq" else "field"

    def cache_identity(self) -> dict[str, Any]:
        """What decides an engine's output for a given text: the per-segment cache's key.

        Batch size, endpoint, backend and keys are left out: they change how a segment is
        translated, not into what, so a moved server or a bigger batch reuses the cache.
        """
        out: dict[str, Any] = {"kind": self.kind, "model": self.model}
        if self.kind in ("llm", "openai"):
            out |= {"prompt": self.prompt_template, "max_new_tokens": self.max_new_tokens}
        elif self.kind == "seq2seq":
            out |= {"code_style": self.code_style, "max_new_tokens": self.max_new_tokens}
        return out
