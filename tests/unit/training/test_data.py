"""Encoding rows: prompt unscored, response + EOS scored, truncation and drops counted."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from nativejobs.training.data import ALPACA, alpaca_prompt, encode_rows, split_heldout


class CharTokenizer:
    """One token per character (ord), BOS 1 prepended when asked, EOS 2."""

    eos_token_id = 2
    chat_template = "{user}|{assistant}"

    def __call__(self, text: str, *, add_special_tokens: bool = True) -> Any:
        return SimpleNamespace(input_ids=([1] if add_special_tokens else []) + [ord(c) for c in text])

    def apply_chat_template(self, conversation: list[dict[str, str]], *, tokenize: bool = False,
                            add_generation_prompt: bool = False) -> str:
        text = "".join(f"<{m['role']}>{m['content']}</>" for m in conversation)
        return text + ("<assistant>" if add_generation_prompt else "")


def _row(instruction: str = "Say hi", output: str = "hi", input_: str = "") -> dict[str, str]:
    return {"instruction": instruction, "input": input_, "output": output}


def test_alpaca_masks_the_prompt_and_scores_response_and_eos() -> None:
    enc = encode_rows(CharTokenizer(), [_row()], template="alpaca", max_length=1000)

    (ex,) = enc.examples
    prompt_len = 1 + len(ALPACA.format(instruction="Say hi"))
    assert ex["input_ids"][prompt_len:] == [ord("h"), ord("i"), 2]
    assert ex["labels"] == [-100] * prompt_len + [ord("h"), ord("i"), 2]
    assert (enc.truncated, enc.dropped, enc.scored_tokens) == (0, 0, 3)


def test_alpaca_uses_the_input_variant_when_there_is_input() -> None:
    assert "### Input:\nctx" in alpaca_prompt(_row(input_="ctx"))
    assert "### Input:" not in alpaca_prompt(_row(input_="  "))


def test_truncation_keeps_the_start_and_is_counted() -> None:
    tok = CharTokenizer()
    prompt_len = 1 + len(ALPACA.format(instruction="Say hi"))
    enc = encode_rows(tok, [_row(output="x" * 50), _row()], template="alpaca", max_length=prompt_len + 10)

    assert [len(e["input_ids"]) for e in enc.examples] == [prompt_len + 10, prompt_len + 3]
    assert (enc.truncated, enc.dropped) == (1, 0)


def test_a_row_whose_prompt_fills_max_length_is_dropped_and_counted() -> None:
    short_prompt = 1 + len(ALPACA.format(instruction="Say hi"))
    enc = encode_rows(CharTokenizer(), [_row(instruction="long " * 40), _row()], template="alpaca",
                      max_length=short_prompt + 3)

    assert len(enc.examples) == 1 and (enc.truncated, enc.dropped) == (1, 1)


def test_chat_template_scores_the_assistant_turn_with_its_end_marker() -> None:
    enc = encode_rows(CharTokenizer(), [_row(input_="ctx")], template="chat", max_length=1000)

    (ex,) = enc.examples
    scored = "".join(chr(t) for t, lab in zip(ex["input_ids"], ex["labels"], strict=True) if lab != -100)
    assert scored == "hi</>"
    prompt = "".join(chr(t) for t, lab in zip(ex["input_ids"], ex["labels"], strict=True) if lab == -100)
    assert prompt == "<user>Say hi\n\nctx</><assistant>"


@pytest.mark.parametrize(("n", "fraction", "held"), [
    pytest.param(20, 0.05, 1, id="at-least-one"), pytest.param(20, 0.25, 5, id="quarter"),
    pytest.param(20, 0.0, 0, id="none"), pytest.param(1, 0.5, 0, id="single-row"),
])
def test_split_heldout_sizes_and_is_seeded(n: int, fraction: float, held: int) -> None:
    rows = [_row(output=str(i)) for i in range(n)]

    train, heldout = split_heldout(rows, fraction, seed=3)

    assert len(heldout) == held and len(train) + len(heldout) == n
    assert (train, heldout) == split_heldout(rows, fraction, seed=3)
