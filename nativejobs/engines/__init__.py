"""Inference shared by translate, evaluate and judge: one protocol, one registry.

``transformers`` (``hf.py``): CPU or GPU, a PEFT adapter merged into the weights. ``vllm``
(``vllm.py``): GPU only, the adapter served as a LoRA request. ``auto`` picks vLLM where it can
serve (installed, CUDA visible), else transformers. Engines know no benchmarks; the evaluate
step hands ``harness_lm()`` to lm-evaluation-harness, so one load serves every benchmark.
Translation's encoder-decoder models (NLLB, MADLAD) load in ``seq2seq.py``; remote chat
endpoints are ``openai.py``. No other module loads a model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Protocol

from nativejobs.errors import StepInputError
from nativejobs.registry import Registry

__all__ = ["BACKENDS", "ENGINES", "Backend", "Engine", "Message", "load_engine", "resolve_backend"]

Backend = Literal["auto", "transformers", "vllm"]
# Imported on lookup: torch, transformers and vLLM load only when a step builds an engine.
ENGINES: Registry[Any] = Registry("engine backend", error=StepInputError)
ENGINES.register("transformers", "nativejobs.engines.hf:TransformersEngine")
ENGINES.register("vllm", "nativejobs.engines.vllm:VLLMEngine")
BACKENDS: tuple[str, ...] = ("auto", *ENGINES)

Message = dict[str, str]  # one chat turn: {"role": "system" | "user" | "assistant", "content": ...}


class Engine(Protocol):
    """A loaded model that completes prompts and scores continuations."""

    batch_size: int
    name: str  # the backend: "transformers" or "vllm"

    def generate(self, prompts: list[str], *, max_new_tokens: int, stop: tuple[str, ...] = (),
                 temperature: float = 0.0, seed: int = 0) -> list[str]:
        """Completions of ``prompts`` (greedy at temperature 0, else sampled with ``seed``),
        each cut at the first stop sequence."""
        ...

    def loglikelihood(self, pairs: list[tuple[str, str]]) -> list[float]:
        """Sum of log-probabilities of each continuation given its context."""
        ...

    def chat_prompt(self, message: str) -> str:
        """``message`` as a one-turn user prompt in the model's chat template (as-is if none)."""
        ...

    def render_chat(self, messages: list[Message]) -> str:
        """A conversation, ready for the assistant's next turn, in the model's chat template
        (without one: the turns' contents separated by blank lines)."""
        ...

    def with_bos(self, text: str) -> str:
        """``text`` with the tokenizer's BOS written out if encoding adds one (``generate``
        encodes prompts without special tokens; training encoded them with)."""
        ...

    def harness_lm(self) -> Any:
        """The loaded model as an lm-evaluation-harness ``LM`` (no second load)."""
        ...


def resolve_backend(backend: str) -> str:
    """``auto`` -> ``vllm`` where vLLM can serve (installed, CUDA visible), else ``transformers``."""
    if backend != "auto":
        return backend
    from nativejobs.engines.vllm import vllm_usable

    return "vllm" if vllm_usable() else "transformers"


def load_engine(model_id: str, *, revision: str | None = None, adapter: Path | None = None,
                batch_size: int = 8, backend: str = "transformers") -> Engine:
    """Load ``model_id`` (hub id, local path or ``pypi:<package>``) with an optional LoRA adapter.

    Raises:
        StepInputError: If ``backend`` is vllm and vLLM cannot serve here, or is unknown.
    """
    engine = ENGINES[resolve_backend(backend)]
    return engine(model_id, revision=revision, adapter=adapter, batch_size=batch_size)  # type: ignore[no-any-return]
