"""A packed batch gives the same per-sequence losses and gradients as one sequence at a time.

Tolerances (fp32 on CPU). Packing changes matrix shapes, so BLAS may sum in another order.
- Per-sequence summed NLL (values up to ~125, i.e. ~30 tokens × ln 97): 1e-4 absolute, ~1e-6
  relative, about fp32 rounding over such a sum. Measured: 0.0 (sdpa and eager).
- LoRA gradients (entries up to ~3.6): rtol 1e-4 plus atol 1e-5 for entries near zero.
  Measured: at most 9.5e-7 absolute.
A leak between sequences is far larger: the negative controls below change the batch's summed
loss by ~0.4, so the test would see one.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from nativejobs.training.packing import PackedCollator, pack_rows
from tests.unit.training.conftest import random_examples, tiny_lora_model

LOSS_ATOL = 1e-4
GRAD_RTOL, GRAD_ATOL = 1e-4, 1e-5
LENGTHS = [7, 19, 5, 12, 30, 9]  # rows of 40 tokens: three rows, two of them padded at the end


def _token_nll(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Per-token NLL [rows, T-1] (0 where the label is -100)."""
    logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits[:, :-1].float()
    target = batch["labels"][:, 1:]
    return torch.nn.functional.cross_entropy(logits.transpose(1, 2), target, ignore_index=-100,
                                             reduction="none")


def _sequence_losses_packed(model: Any, examples: list[dict[str, list[int]]],
                            collate: PackedCollator) -> list[torch.Tensor]:
    """Summed NLL of each example, read back out of the packed rows."""
    batch = collate(examples)  # type: ignore[arg-type]
    nll = _token_nll(model, batch)
    out: list[torch.Tensor] = [torch.zeros(())] * len(examples)
    for r, row in enumerate(pack_rows([len(e["input_ids"]) for e in examples], collate.row_tokens)):
        start = 0
        for i in row:
            n = len(examples[i]["input_ids"])
            out[i] = nll[r, start : start + n - 1].sum()  # the n-1 predictions inside sequence i
            start += n
    return out


def _sequence_losses_alone(model: Any, examples: list[dict[str, list[int]]]) -> list[torch.Tensor]:
    out = []
    for e in examples:
        batch = {"input_ids": torch.tensor([e["input_ids"]]), "labels": torch.tensor([e["labels"]])}
        out.append(_token_nll(model, batch).sum())
    return out


def _lora_grads(model: Any, loss: torch.Tensor) -> dict[str, torch.Tensor]:
    model.zero_grad(set_to_none=True)
    loss.backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("attn", ["sdpa", "eager"], ids=["sdpa", "eager"])
def test_packed_batch_matches_sequences_one_by_one(attn: str) -> None:
    model = tiny_lora_model(attn)
    examples = random_examples(LENGTHS)
    collate = PackedCollator(row_tokens=40, pad_id=0)
    assert collate(examples)["input_ids"].shape[0] == 3  # really packed, with padded rows

    packed = _sequence_losses_packed(model, examples, collate)
    alone = _sequence_losses_alone(model, examples)
    for i, (p, a) in enumerate(zip(packed, alone, strict=True)):
        assert abs(p.item() - a.item()) <= LOSS_ATOL, f"sequence {i}: packed {p} vs alone {a}"

    grads_packed = _lora_grads(model, torch.stack(packed).sum())
    grads_alone = _lora_grads(model, torch.stack(_sequence_losses_alone(model, examples)).sum())
    assert grads_packed.keys() == grads_alone.keys() and len(grads_packed) == 2 * 3 * 2  # A, B × qkv × layers
    for name, g in grads_packed.items():
        assert g.abs().sum() > 0, name
        torch.testing.assert_close(g, grads_alone[name], rtol=GRAD_RTOL, atol=GRAD_ATOL, msg=name)


def test_one_row_layout_matches_too() -> None:
    """The varlen layout (everything in one row) isolates the same way on SDPA."""
    model = tiny_lora_model("sdpa")
    examples = random_examples(LENGTHS, seed=2)
    packed = _sequence_losses_packed(model, examples, PackedCollator(row_tokens=None, pad_id=0))
    for p, a in zip(packed, _sequence_losses_alone(model, examples), strict=True):
        assert abs(p.item() - a.item()) <= LOSS_ATOL


def test_without_position_resets_sequences_leak() -> None:
    """Negative control: continuous positions (no isolation) change later sequences' losses."""
    model = tiny_lora_model("sdpa")
    examples = random_examples(LENGTHS)
    collate = PackedCollator(row_tokens=None, pad_id=0)
    batch = collate(examples)  # type: ignore[arg-type]
    batch["position_ids"] = torch.arange(batch["input_ids"].shape[1]).unsqueeze(0)
    leaky = _token_nll(model, batch).sum()
    isolated = _token_nll(model, collate(examples)).sum()  # type: ignore[arg-type]
    assert abs(float(leaky) - float(isolated)) > 1e-2


def test_a_kv_cache_defeats_isolation() -> None:
    """Why ``add_lora`` turns the cache off: with ``use_cache`` on, transformers builds a cache
    object even in training and then skips packed-sequence detection (5.x), so packed sequences
    leak into each other although their position ids restart."""
    model = tiny_lora_model("sdpa")
    examples = random_examples(LENGTHS)
    batch = PackedCollator(row_tokens=None, pad_id=0)(examples)  # type: ignore[arg-type]
    with torch.no_grad():
        isolated = _token_nll(model, batch).sum()
        leaky = _token_nll(model, {**batch, "use_cache": True}).sum()  # type: ignore[dict-item]
    assert abs(float(leaky) - float(isolated)) > 1e-2
