"""A packed batch gives the same per-sequence losses and gradients as one sequence at a time,
on every attention path and speed option this machine can run.

Paths: SDPA, eager and flex_attention (transformers' document BlockMask from the position-id
resets); compiled decoder layers; Liger's kernels (CUDA only), whose fused linear cross-entropy
is exercised by the model-loss test (it computes the loss without logits, in training mode).
On a CPU the base is fp32; on CUDA (``bench/gpu_check.sh``) it is bf16 under bf16 autocast, as
the train step runs it, with LoRA in fp32. Each path that cannot run here is skipped with why.

Tolerances. Packing changes matrix shapes, so kernels may sum in another order.
- fp32: per-sequence summed NLL (values up to ~125, i.e. ~30 tokens × ln 97): 1e-4 absolute,
  ~1e-6 relative, about fp32 rounding over such a sum (measured: 0.0 for sdpa and eager). LoRA
  gradients (entries up to ~3.6): rtol 1e-4 plus atol 1e-5 (measured: at most 9.5e-7).
- bf16 (base in bf16, bf16 autocast, LoRA fp32): measured on CPU with three seeds for sdpa,
  eager and compiled layers: per-sequence NLL at most 0.002 apart, the model's mean loss 8e-6
  relative, gradients 0.009 of their largest entry. Set with a margin for CUDA's other kernels:
  NLL 0.02 absolute, mean loss 2e-4 relative, gradients rtol 5e-2 plus 3e-2 of the largest entry.
A leak between sequences is far larger: the negative controls below change the batch's summed
loss by ~0.45 (fp32 and bf16 alike), and are checked against each dtype's NLL tolerance ×10.
"""

from __future__ import annotations

import functools
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import pytest
import torch

from nativejobs.training.packing import PackedCollator, pack_rows
from nativejobs.training.speed import SpeedChoice, choose_speed, compile_layers, liger_blocker
from tests.unit.training.conftest import random_examples, tiny_lora_model

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
BF16 = DEVICE == "cuda"
DTYPE = torch.bfloat16 if BF16 else torch.float32
LOSS_ATOL = 0.02 if BF16 else 1e-4  # per-sequence summed NLL
MEAN_RTOL = 2e-4 if BF16 else 1e-6  # the model's mean loss over the batch
GRAD_RTOL, GRAD_ATOL = (5e-2, 3e-2) if BF16 else (1e-4, 1e-5)  # GRAD_ATOL: × the largest entry in bf16
LENGTHS = [7, 19, 5, 12, 30, 9]  # rows of 40 tokens: three rows, two of them padded at the end
COMPILE_BACKEND = "inductor" if DEVICE == "cuda" else "aot_eager"  # aot_eager: seconds on CPU


@dataclass(frozen=True)
class Path:
    attention: str
    kernels: str = "none"
    compile: str = "none"

    @property
    def id(self) -> str:
        return "-".join(x for x in (self.attention, self.kernels, self.compile) if x != "none")


PATHS = [Path("sdpa"), Path("eager"), Path("flex_attention"), Path("sdpa", compile="layers"),
         Path("sdpa", kernels="liger"), Path("flex_attention", kernels="liger"),
         Path("sdpa", kernels="liger", compile="layers")]


@functools.cache
def _flex_blocker() -> str:
    """Why flex_attention cannot run here ("" when it can): a 1-row call through transformers."""
    try:
        model = tiny_lora_model("flex_attention", device=DEVICE, dtype=DTYPE)
        with torch.no_grad(), _autocast():
            model(input_ids=torch.tensor([[5, 6, 7, 8]], device=DEVICE))
    except Exception as e:  # torch too old, no C++ compiler for inductor on CPU, ...
        return f"flex_attention does not run here: {type(e).__name__}: {str(e)[:200]}"
    return ""


def _speed(path: Path) -> SpeedChoice:
    blocker = liger_blocker(device=DEVICE, model_type="llama") if path.kernels == "liger" else ""
    if blocker:
        pytest.skip(blocker)
    if path.attention == "flex_attention" and (why := _flex_blocker()):
        pytest.skip(why)
    return choose_speed(device=DEVICE, kernels=path.kernels, compile=path.compile,  # type: ignore[arg-type]
                        liger_blocker="")


def _has_backward(path: Path) -> bool:
    """flex_attention has no backward on CPU (torch 2.15): there its losses are checked, and its
    gradients on CUDA only."""
    return not (path.attention == "flex_attention" and DEVICE == "cpu")


def _model(path: Path, *, seed: int = 0) -> Any:
    speed = _speed(path)
    model = tiny_lora_model(path.attention, seed=seed, device=DEVICE, dtype=DTYPE, speed=speed)
    compile_layers(model, speed, backend=COMPILE_BACKEND)
    return model


def _autocast() -> AbstractContextManager[Any]:
    return torch.autocast(DEVICE, dtype=torch.bfloat16, enabled=BF16)


def _on_device(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.to(DEVICE) for k, v in batch.items()}


def _token_nll(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Per-token NLL [rows, T-1] (0 where the label is -100), from the logits."""
    batch = _on_device(batch)
    with _autocast():
        logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits[:, :-1].float()
    target = batch["labels"][:, 1:]
    return torch.nn.functional.cross_entropy(logits.transpose(1, 2), target, ignore_index=-100,
                                             reduction="none")


def _sequence_losses_packed(model: Any, examples: list[dict[str, list[int]]],
                            collate: PackedCollator) -> list[torch.Tensor]:
    """Summed NLL of each example, read back out of the packed rows."""
    nll = _token_nll(model, collate(examples))  # type: ignore[arg-type]
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


def _model_loss(model: Any, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """(the model's own loss, as the Trainer computes it: summed over scored tokens / n; n)."""
    batch = _on_device(batch)
    n = int((batch["labels"][:, 1:] != -100).sum())
    with _autocast():
        loss = model(**batch, num_items_in_batch=torch.tensor(n, device=DEVICE)).loss
    return loss.float(), n


def _lora_grads(model: Any, loss: torch.Tensor) -> dict[str, torch.Tensor]:
    model.zero_grad(set_to_none=True)
    loss.backward()
    return {n: p.grad.float().clone() for n, p in model.named_parameters() if p.requires_grad}


def _assert_grads_close(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> None:
    assert got.keys() == want.keys() and len(got) == 2 * 3 * 2  # A, B × qkv × layers
    for name, g in got.items():
        assert g.abs().sum() > 0, name
        atol = GRAD_ATOL * float(want[name].abs().max()) if BF16 else GRAD_ATOL
        torch.testing.assert_close(g, want[name], rtol=GRAD_RTOL, atol=atol, msg=name)


@pytest.mark.parametrize("path", PATHS, ids=[p.id for p in PATHS])
def test_packed_batch_matches_sequences_one_by_one(path: Path) -> None:
    model = _model(path)
    examples = random_examples(LENGTHS)
    collate = PackedCollator(row_tokens=40, pad_id=0)
    assert collate(examples)["input_ids"].shape[0] == 3  # type: ignore[arg-type]  # packed, padded rows

    with torch.set_grad_enabled(_has_backward(path)):
        packed = _sequence_losses_packed(model, examples, collate)
        alone = _sequence_losses_alone(model, examples)
    for i, (p, a) in enumerate(zip(packed, alone, strict=True)):
        assert abs(p.item() - a.item()) <= LOSS_ATOL, f"sequence {i}: packed {p} vs alone {a}"

    if _has_backward(path):
        alone_sum = torch.stack(_sequence_losses_alone(model, examples)).sum()
        _assert_grads_close(_lora_grads(model, torch.stack(packed).sum()), _lora_grads(model, alone_sum))


@pytest.mark.parametrize("path", PATHS, ids=[p.id for p in PATHS])
def test_the_models_loss_matches_sequences_one_by_one(path: Path) -> None:
    """What training optimises: the model's own loss on a packed batch (Liger: the fused linear
    cross-entropy, no logits) and its LoRA gradients, against the one-at-a-time sum."""
    model = _model(path, seed=3)
    examples = random_examples(LENGTHS, seed=4)
    with torch.set_grad_enabled(_has_backward(path)):
        loss, n = _model_loss(model, PackedCollator(row_tokens=40, pad_id=0)(examples))  # type: ignore[arg-type]
        alone = torch.stack(_sequence_losses_alone(model, examples)).sum() / n

    assert loss.item() == pytest.approx(alone.item(), rel=MEAN_RTOL)
    if _has_backward(path):
        _assert_grads_close(_lora_grads(model, loss), _lora_grads(model, alone))


def test_one_row_layout_matches_too() -> None:
    """The varlen layout (everything in one row) isolates the same way on SDPA."""
    model = _model(Path("sdpa"))
    examples = random_examples(LENGTHS, seed=2)
    packed = _sequence_losses_packed(model, examples, PackedCollator(row_tokens=None, pad_id=0))
    for p, a in zip(packed, _sequence_losses_alone(model, examples), strict=True):
        assert abs(p.item() - a.item()) <= LOSS_ATOL


def test_without_position_resets_sequences_leak() -> None:
    """Negative control: continuous positions (no isolation) change later sequences' losses by
    far more than the tolerance."""
    model = _model(Path("sdpa"))
    examples = random_examples(LENGTHS)
    collate = PackedCollator(row_tokens=None, pad_id=0)
    batch = collate(examples)  # type: ignore[arg-type]
    batch["position_ids"] = torch.arange(batch["input_ids"].shape[1]).unsqueeze(0)
    with torch.no_grad():
        leaky = _token_nll(model, batch).sum()
        isolated = _token_nll(model, collate(examples)).sum()  # type: ignore[arg-type]
    assert abs(float(leaky) - float(isolated)) > 10 * LOSS_ATOL


def test_a_kv_cache_defeats_isolation() -> None:
    """Why ``add_lora`` turns the cache off: with ``use_cache`` on, transformers builds a cache
    object even in training and then skips packed-sequence detection (5.x), so packed sequences
    leak into each other although their position ids restart."""
    model = _model(Path("sdpa"))
    examples = random_examples(LENGTHS)
    batch = _on_device(PackedCollator(row_tokens=None, pad_id=0)(examples))  # type: ignore[arg-type]
    with torch.no_grad():
        isolated = _token_nll(model, batch).sum()
        with _autocast():
            out = model(**{k: v for k, v in batch.items() if k != "labels"}, use_cache=True)
        target = batch["labels"][:, 1:]
        leaky = torch.nn.functional.cross_entropy(out.logits[:, :-1].float().transpose(1, 2), target,
                                                  ignore_index=-100, reduction="none").sum()
    assert abs(float(leaky) - float(isolated)) > 10 * LOSS_ATOL
