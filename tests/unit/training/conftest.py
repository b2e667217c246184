"""Tiny random-weight Llama models built in memory (no downloads, well under a second each)."""

from __future__ import annotations

from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

VOCAB = 97


def tiny_lora_model(attn: str = "sdpa", *, seed: int = 0, device: str = "cpu",
                    dtype: Any = None, speed: Any = None) -> Any:
    """A 2-layer Llama wrapped by the train step's own ``add_lora`` (LoRA on q, k, v).

    LoRA B is random too (not PEFT's zeros), so every LoRA weight gets a gradient; dropout 0,
    so a packed and an unpacked pass compute the same function. ``dtype`` is the base's (LoRA
    stays fp32, as PEFT keeps it over a 16-bit base); ``speed`` (a ``SpeedChoice``) applies the
    train step's kernels before LoRA, as the step does (compilation is the caller's).
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    from nativejobs.training.model import add_lora
    from nativejobs.training.speed import apply_kernels

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                      attn_implementation=attn)
    base = LlamaForCausalLM(cfg).to(device=device, dtype=dtype or torch.float32)
    if speed is not None:
        apply_kernels(base, speed)
    return add_lora(base, r=4, alpha=8, dropout=0.0,
                    target_modules=["q_proj", "k_proj", "v_proj"], init_weights=False)


def random_examples(lengths: list[int], *, prompt: int = 3, seed: int = 1) -> list[dict[str, list[int]]]:
    """Examples of the given lengths whose first ``prompt`` tokens are unscored (-100)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for n in lengths:
        ids = torch.randint(3, VOCAB, (n,), generator=g).tolist()
        out.append({"input_ids": ids, "labels": [-100] * min(prompt, n) + ids[prompt:]})
    return out
