"""TransformersEngine's prompt helpers (with_bos, render_chat) on stand-in tokenizers."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from nativejobs.engines.hf import TransformersEngine


class Tok:
    def __init__(self, *, adds_bos: bool, template: str | None = None) -> None:
        self.bos_token, self.bos_token_id, self.adds_bos = "<s>", 1, adds_bos
        self.chat_template = template

    def __call__(self, text: str) -> Any:
        return SimpleNamespace(input_ids=([1] if self.adds_bos else []) + [7])

    def apply_chat_template(self, messages: list[dict[str, str]], **kw: Any) -> str:
        assert kw == {"tokenize": False, "add_generation_prompt": True}
        return "".join(f"<{m['role']}>{m['content']}" for m in messages) + "<assistant>"


def engine(tok: Tok) -> TransformersEngine:
    e = TransformersEngine.__new__(TransformersEngine)  # no model: only the tokenizer is used
    e.tokenizer = tok
    return e


@pytest.mark.parametrize(("adds_bos", "text", "want"), [
    pytest.param(True, "Below is", "<s>Below is", id="llama-style-adds-bos"),
    pytest.param(True, "<s>Below is", "<s>Below is", id="already-there"),
    pytest.param(False, "Below is", "Below is", id="smollm-style-none"),
])
def test_with_bos_writes_out_the_bos_training_encoding_adds(adds_bos: bool, text: str, want: str) -> None:
    assert engine(Tok(adds_bos=adds_bos)).with_bos(text) == want


def test_render_chat_uses_the_template_or_joins_the_turns() -> None:
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]

    assert engine(Tok(adds_bos=False, template="t")).render_chat(messages) == "<system>S<user>U<assistant>"
    assert engine(Tok(adds_bos=False)).render_chat(messages) == "S\n\nU\n\n"
