"""Instruction rows → token ids with the prompt masked out of the loss.

Alpaca's template is the default (the authors' earlier code used it; 2406.12822 does not name
one). The prompt and the response are tokenised separately, as at inference time, where the
model sees the prompt alone and generates the rest.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypedDict

__all__ = ["ALPACA", "ALPACA_INPUT", "EncodedSet", "Example", "alpaca_prompt", "encode_rows",
           "split_heldout"]

IGNORE = -100  # label of a token that is not scored (prompt, padding, sequence boundary)

ALPACA = ("Below is an instruction that describes a task. Write a response that appropriately "
          "completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:\n")
ALPACA_INPUT = ("Below is an instruction that describes a task, paired with an input that provides "
                "further context. Write a response that appropriately completes the request.\n\n"
                "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n")


class Example(TypedDict):
    """One training sequence: ``labels`` is ``input_ids`` with unscored positions set to -100."""

    input_ids: list[int]
    labels: list[int]


@dataclass(frozen=True)
class EncodedSet:
    """Encoded rows plus what truncation did to them."""

    examples: list[Example]
    truncated: int  # rows cut at max_length (their response lost its end)
    dropped: int  # rows whose prompt alone filled max_length: nothing left to score

    @property
    def tokens(self) -> int:
        return sum(len(e["input_ids"]) for e in self.examples)

    @property
    def scored_tokens(self) -> int:
        return sum(sum(1 for t in e["labels"] if t != IGNORE) for e in self.examples)


class Tokenizer(Protocol):
    """The part of a Hugging Face tokenizer this module uses."""

    eos_token_id: int | None

    def __call__(self, text: str, *, add_special_tokens: bool = ...) -> Any: ...
    def apply_chat_template(self, conversation: list[dict[str, str]], **kwargs: Any) -> Any: ...


def alpaca_prompt(row: dict[str, str]) -> str:
    template = ALPACA_INPUT if row.get("input", "").strip() else ALPACA
    return template.format(instruction=row["instruction"], input=row.get("input", ""))


def split_heldout(rows: list[dict[str, str]], fraction: float,
                  seed: int) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(train, heldout): a seeded split; at least one held-out row when fraction > 0."""
    if fraction <= 0 or len(rows) < 2:
        return rows, []
    order = random.Random(seed).sample(range(len(rows)), len(rows))
    n_held = max(1, round(len(rows) * fraction))
    held = set(order[:n_held])
    return ([r for i, r in enumerate(rows) if i not in held],
            [r for i, r in enumerate(rows) if i in held])


def _user_text(row: dict[str, str]) -> str:
    extra = row.get("input", "").strip()
    return f"{row['instruction']}\n\n{extra}" if extra else row["instruction"]


def _prompt_and_response(tok: Tokenizer, row: dict[str, str],
                         template: Literal["alpaca", "chat"]) -> tuple[list[int], list[int]]:
    if template == "alpaca":
        prompt = list(tok(alpaca_prompt(row), add_special_tokens=True).input_ids)
        if prompt and prompt[-1] == tok.eos_token_id:  # some tokenizers also append EOS
            prompt = prompt[:-1]
        response = [*tok(row["output"], add_special_tokens=False).input_ids, tok.eos_token_id]
        return prompt, response
    user = [{"role": "user", "content": _user_text(row)}]
    prompt_text = str(tok.apply_chat_template(user, tokenize=False, add_generation_prompt=True))
    full_text = str(tok.apply_chat_template(
        [*user, {"role": "assistant", "content": row["output"]}], tokenize=False))
    prompt = list(tok(prompt_text, add_special_tokens=False).input_ids)
    if full_text.startswith(prompt_text):  # the template's own end-of-turn tokens close the answer
        return prompt, list(tok(full_text[len(prompt_text):], add_special_tokens=False).input_ids)
    return prompt, [*tok(row["output"], add_special_tokens=False).input_ids, tok.eos_token_id]


def encode_rows(tok: Tokenizer, rows: list[dict[str, str]], *, template: Literal["alpaca", "chat"],
                max_length: int) -> EncodedSet:
    """Token ids and labels for ``rows``; sequences longer than ``max_length`` keep their start."""
    examples: list[Example] = []
    truncated = dropped = 0
    for row in rows:
        prompt, response = _prompt_and_response(tok, row, template)
        ids, labels = prompt + response, [IGNORE] * len(prompt) + response
        if len(ids) > max_length:
            truncated += 1
            ids, labels = ids[:max_length], labels[:max_length]
        if all(t == IGNORE for t in labels[1:]):  # label 0 is never scored (nothing predicts it)
            dropped += 1
            continue
        examples.append({"input_ids": ids, "labels": labels})
    return EncodedSet(examples, truncated, dropped)
