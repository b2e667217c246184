"""Inference shared by translate, evaluate and judge: one protocol, one registry.

On CPU (and on GPU without vLLM) the transformers engine serves; vLLM joins on GPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

__all__ = ["Engine", "Message", "load_engine"]

Message = dict[str, str]  # one chat turn: {"role": "system" | "user" | "assistant", "content": ...}


class Engine(Protocol):
    """A loaded model that completes prompts and scores continuations."""

    batch_size: int

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


def load_engine(model_id: str, *, revision: str | None = None, adapter: Path | None = None,
                batch_size: int = 8) -> Engine:
    """Load ``model_id`` (hub id, local path or ``pypi:<package>``) with an optional LoRA adapter."""
    from nativejobs.engines.hf import TransformersEngine

    return TransformersEngine(model_id, revision=revision, adapter=adapter, batch_size=batch_size)
