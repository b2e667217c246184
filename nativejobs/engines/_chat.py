"""Prompt helpers every engine shares: chat templates and an explicit BOS, from the tokenizer."""

from __future__ import annotations

from typing import Any

__all__ = ["chat_prompt", "render_chat", "with_bos"]


def chat_prompt(tok: Any, message: str) -> str:
    """``message`` as a one-turn user prompt in the tokenizer's chat template (as-is if none)."""
    if not tok.chat_template:
        return message
    return tok.apply_chat_template([{"role": "user", "content": message}], tokenize=False,
                                   add_generation_prompt=True)


def render_chat(tok: Any, messages: list[dict[str, str]]) -> str:
    """A conversation ready for the assistant's turn (without a template: blank-line joined)."""
    if not tok.chat_template:
        return "\n\n".join(m["content"] for m in messages) + "\n\n"
    return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def with_bos(tok: Any, text: str) -> str:
    """``text`` with the BOS written out if encoding adds one (Llama-2, Gemma; not SmolLM2, Qwen)."""
    adds_bos = bool(tok.bos_token) and tok("x").input_ids[:1] == [tok.bos_token_id]
    return tok.bos_token + text if adds_bos and not text.startswith(tok.bos_token) else text
