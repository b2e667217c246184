"""Load the frozen base (8-bit on CUDA when bitsandbytes is there) and wrap it with LoRA.

What was asked for and what was used are both recorded: 8-bit needs CUDA and bitsandbytes,
and without them the base is loaded in bf16 (CUDA) or fp32 (CPU).
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass
from typing import Any, Literal

__all__ = ["Attention", "BaseLoad", "Precision", "add_lora", "choose_attention", "load_base",
           "peak_memory_gib"]

Precision = Literal["int8", "bfloat16", "float32"]
Attention = Literal["auto", "sdpa", "eager", "flex_attention", "flash_attention_2"]


@dataclass(frozen=True)
class BaseLoad:
    """How the base model was actually loaded (goes into metrics.json)."""

    device: str
    precision_requested: str
    precision: str
    precision_note: str  # why it differs from the request; "" when it does not
    attention: str
    gradient_checkpointing: bool

    def as_record(self) -> dict[str, Any]:
        return asdict(self)


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def choose_attention(requested: Attention, device: str) -> str:
    """'auto': a varlen flash kernel where installed (CUDA), else SDPA with a block mask."""
    if requested != "auto":
        return requested
    return "flash_attention_2" if device == "cuda" and _has("flash_attn") else "sdpa"


def _precision(requested: Precision, device: str) -> tuple[str, str]:
    if requested == "int8" and device != "cuda":
        return "float32", "8-bit loading needs CUDA; fp32 on CPU"
    if requested == "int8" and not _has("bitsandbytes"):
        return "bfloat16", "bitsandbytes is not installed; install the gpu extra for 8-bit"
    return requested, ""


def load_base(path: str, *, revision: str | None, precision: Precision, attention: Attention,
              gradient_checkpointing: bool) -> tuple[Any, BaseLoad]:
    """The frozen base model, on CUDA when there is one."""
    import torch
    from transformers import AutoModelForCausalLM

    device = "cuda" if torch.cuda.is_available() else "cpu"
    used, note = _precision(precision, device)
    attn = choose_attention(attention, device)
    kwargs: dict[str, Any] = {"revision": revision, "attn_implementation": attn}
    if used == "int8":
        from transformers import BitsAndBytesConfig

        kwargs.update(quantization_config=BitsAndBytesConfig(load_in_8bit=True),
                      dtype=torch.bfloat16, device_map={"": 0})
    else:
        kwargs["dtype"] = torch.bfloat16 if used == "bfloat16" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    if used == "int8":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False})
    elif device == "cuda":
        model = model.to(device)
    return model, BaseLoad(device, precision, used, note, attn, gradient_checkpointing)


def add_lora(model: Any, *, r: int, alpha: int, dropout: float, target_modules: list[str],
             gradient_checkpointing: bool = False, init_weights: bool = True) -> Any:
    """Freeze ``model`` and add LoRA adapters; ready for packed training.

    The KV cache is switched off: with a cache object present, transformers skips the packed-
    sequence detection and packed sequences would attend to each other (see the isolation test).
    """
    from peft import LoraConfig, get_peft_model

    model.config.use_cache = False
    if gradient_checkpointing and not getattr(model, "is_loaded_in_8bit", False):
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    cfg = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=list(target_modules),
                     bias="none", task_type="CAUSAL_LM", init_lora_weights=init_weights)
    return get_peft_model(model, cfg)


def peak_memory_gib(device: str) -> tuple[float, str]:
    """(peak memory of this process so far in GiB, what was measured)."""
    if device == "cuda":
        import torch

        return round(torch.cuda.max_memory_allocated() / 2**30, 2), "cuda max_memory_allocated"
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2), "process max RSS"
