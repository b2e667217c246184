"""Load the frozen base (8-bit on CUDA when bitsandbytes is there) and wrap it with LoRA.

What was asked for and what was used are both recorded, with the reason: ``choose_load`` is the
one place that decides, a pure function of the device and the installed kernels. 8-bit needs
CUDA and bitsandbytes; without them the base is loaded in bf16 (CUDA) or fp32 (CPU). Attention
'auto' takes flash-attn's varlen kernels where they can run (CUDA, flash-attn installed, a
16-bit base), else SDPA with a block mask over packed rows.
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass
from typing import Any, Literal

from nativejobs.errors import StepInputError

__all__ = ["Attention", "BaseLoad", "LoadChoice", "Precision", "add_lora", "choose_load", "load_base",
           "peak_memory_gib", "pretrained_kwargs"]

Precision = Literal["int8", "bfloat16", "float32"]
Attention = Literal["auto", "sdpa", "eager", "flex_attention", "flash_attention_2"]


@dataclass(frozen=True)
class LoadChoice:
    """What ``choose_load`` decided; a note says why wherever it is not simply what was asked."""

    precision: str
    precision_note: str  # "" when the requested precision is used
    attention: str
    attention_note: str  # why 'auto' became what it became; "" for an explicit choice


@dataclass(frozen=True)
class BaseLoad:
    """How the base model was actually loaded (goes into metrics.json)."""

    device: str
    precision_requested: str
    precision: str
    precision_note: str  # why it differs from the request; "" when it does not
    attention_requested: str
    attention: str
    attention_note: str
    gradient_checkpointing: bool

    def as_record(self) -> dict[str, Any]:
        return asdict(self)


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _choose_precision(requested: Precision, *, device: str, has_bitsandbytes: bool) -> tuple[str, str]:
    if requested == "int8" and device != "cuda":
        return "float32", "8-bit loading needs CUDA; fp32 on CPU"
    if requested == "int8" and not has_bitsandbytes:
        return "bfloat16", "bitsandbytes is not installed; install the gpu extra for 8-bit"
    return requested, ""


def _flash_blocker(*, device: str, precision: str, has_flash_attn: bool) -> str:
    """Why flash attention cannot run here; "" when it can."""
    if device != "cuda":
        return "flash attention needs CUDA"
    if not has_flash_attn:
        return "flash-attn is not installed"
    if precision == "float32":
        return "flash attention runs in 16 bits only and the base is fp32"
    return ""


def choose_load(*, device: str, precision: Precision, attention: Attention, has_bitsandbytes: bool,
                has_flash_attn: bool) -> LoadChoice:
    """The precision and attention kernel to load the base with, and why.

    Raises:
        StepInputError: ``attention`` asks for flash_attention_2 where it cannot run (an
            explicit choice is not second-guessed; 'auto' falls back instead).
    """
    used, precision_note = _choose_precision(precision, device=device, has_bitsandbytes=has_bitsandbytes)
    blocker = _flash_blocker(device=device, precision=used, has_flash_attn=has_flash_attn)
    if attention == "flash_attention_2" and blocker:
        raise StepInputError(f"training.attention is 'flash_attention_2' but {blocker}; "
                             "use attention: auto (flash attention where it can run, else sdpa)")
    if attention != "auto":
        return LoadChoice(used, precision_note, attention, "")
    if blocker:
        return LoadChoice(used, precision_note, "sdpa", f"auto: {blocker}; sdpa with a block mask")
    return LoadChoice(used, precision_note, "flash_attention_2", "auto: flash-attn varlen kernels")


def pretrained_kwargs(choice: LoadChoice, *, revision: str | None) -> dict[str, Any]:
    """``from_pretrained`` arguments for ``choice`` (8-bit: bitsandbytes on GPU 0, bf16 compute)."""
    import torch

    kwargs: dict[str, Any] = {"revision": revision, "attn_implementation": choice.attention}
    if choice.precision == "int8":
        from transformers import BitsAndBytesConfig

        kwargs.update(quantization_config=BitsAndBytesConfig(load_in_8bit=True),
                      dtype=torch.bfloat16, device_map={"": 0})
    else:
        kwargs["dtype"] = torch.bfloat16 if choice.precision == "bfloat16" else torch.float32
    return kwargs


def load_base(path: str, *, revision: str | None, precision: Precision, attention: Attention,
              gradient_checkpointing: bool) -> tuple[Any, BaseLoad]:
    """The frozen base model, on CUDA when there is one.

    Raises:
        StepInputError: an explicit attention kernel that cannot run here (see ``choose_load``).
    """
    import torch
    from transformers import AutoModelForCausalLM

    device = "cuda" if torch.cuda.is_available() else "cpu"
    choice = choose_load(device=device, precision=precision, attention=attention,
                         has_bitsandbytes=_has("bitsandbytes"), has_flash_attn=_has("flash_attn"))
    model = AutoModelForCausalLM.from_pretrained(path, **pretrained_kwargs(choice, revision=revision))
    if choice.precision == "int8":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False})
    elif device == "cuda":
        model = model.to(device)
    return model, BaseLoad(device, precision, choice.precision, choice.precision_note, attention,
                           choice.attention, choice.attention_note, gradient_checkpointing)


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
