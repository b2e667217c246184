"""Prompt helpers every engine shares: chat templates and an explicit BOS, from the tokenizer."""

from __future__ import annotations

from typing import Any

__all__ = ["ChatPrompts"]


class ChatPrompts:
    """Prompt building from ``self.tokenizer``, mixed into every engine."""

    tokenizer: Any

    def chat_prompt(self, message: str) -> str:
        """``message`` as a one-turn user prompt in the tokenizer's chat template (as-is if none)."""
        if not self.tokenizer.chat_template:
            return message
        return self.tokenizer.apply_chat_template([{"role": "user", "content": message}],
                                                  tokenize=False, add_generation_prompt=True)

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        """A conversation ready for the assistant's turn (without a template: blank-line joined)."""
        if not self.tokenizer.chat_template:
            return "\n\n".join(m["content"] for m in messages) + "\n\n"
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def with_bos(self, text: str) -> str:
        """``text`` with the BOS written out if encoding adds one (Llama-2, Gemma; not SmolLM2, Qwen)."""
        tok = self.tokenizer
        adds_bos = bool(tok.bos_token) and tok("x").input_ids[:1] == [tok.bos_token_id]
        return tok.bos_token + text if adds_bos and not text.startswith(tok.bos_token) else text
