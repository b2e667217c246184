"""Speed options of the train step: fused kernels and compiled decoder layers.

Each option is a ``training:`` setting whose 'auto' is resolved here, by ``choose_speed``: a pure
function of the device and of what is installed, which records why it chose what it chose (the
train step's metrics keep it, as they keep ``choose_load``'s). None of them changes what is
computed beyond floating-point rounding: same loss, same gradients, same packed isolation
(``tests/unit/training/test_packing_isolation.py`` runs every path the machine can run).

- ``kernels: liger``: Liger's Triton kernels (RMSNorm, SwiGLU, RoPE, and a fused linear
  cross-entropy that never materialises the logits: a micro-batch of 16k tokens × 32k vocabulary
  is 2 GiB of fp32 logits less). Triton needs CUDA, so 'auto' takes them on CUDA where
  ``liger-kernel`` is installed and has kernels for the model's architecture, over a 16-bit base
  (over the 8-bit one only when asked, until a GPU run has measured it); elsewhere 'none'.
- ``compile: layers``: ``torch.compile`` of each decoder layer (regional compilation: one
  compiled graph reused by every layer), which fuses the elementwise work around the matmuls.
  'auto' is 'none' everywhere until a GPU measurement shows it pays for its compile time
  (``bench/gpu_check.sh`` measures it); 'layers' is honoured on CPU and CUDA.

An explicit choice that cannot run here is bad input (exit 3 with one line saying what to do),
never a silent fallback and never an ImportError deep in a library.
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass
from typing import Any, Literal

from nativejobs.errors import StepInputError

__all__ = ["Compile", "Kernels", "SpeedChoice", "apply_kernels", "choose_speed", "compile_layers",
           "decoder_layers", "liger_blocker", "uncompile_layers"]

Kernels = Literal["auto", "liger", "none"]
Compile = Literal["auto", "layers", "none"]

@dataclass(frozen=True)
class SpeedChoice:
    """What ``choose_speed`` decided; each note says why wherever 'auto' was resolved."""

    kernels_requested: str
    kernels: str  # "liger" | "none"
    kernels_note: str
    compile_requested: str
    compile: str  # "layers" | "none"
    compile_note: str

    def as_record(self) -> dict[str, Any]:
        return asdict(self)


def liger_blocker(*, device: str, model_type: str) -> str:
    """Why Liger's kernels cannot run here; "" when they can (imports liger-kernel on CUDA)."""
    if device != "cuda":
        return "Liger's Triton kernels need CUDA"
    if importlib.util.find_spec("liger_kernel") is None:
        return "liger-kernel is not installed (pip install liger-kernel, or the gpu extra)"
    try:
        from liger_kernel.transformers.monkey_patch import MODEL_TYPE_TO_APPLY_LIGER_FN
    except Exception as e:  # a broken install (e.g. triton missing or mismatched): say which
        return f"liger-kernel does not import: {type(e).__name__}: {e}"
    if model_type not in MODEL_TYPE_TO_APPLY_LIGER_FN:
        return f"liger-kernel has no kernels for model type {model_type!r}"
    return ""


def _choose_kernels(requested: Kernels, blocker: str, precision: str) -> tuple[str, str]:
    if requested == "liger" and blocker:
        raise StepInputError(f"training.kernels is 'liger' but {blocker}; use kernels: auto "
                             "(Liger where it can run) or kernels: none")
    if requested != "auto":
        return requested, ""
    if blocker:
        return "none", f"auto: {blocker}"
    if precision == "int8":  # k-bit preparation leaves fp32 norms and head around int8 matmuls
        return "none", "auto: Liger over an 8-bit base is not yet measured; kernels: liger to try it"
    return "liger", "auto: Liger's fused RMSNorm, SwiGLU, RoPE and linear cross-entropy"


def _choose_compile(requested: Compile, *, device: str) -> tuple[str, str]:
    if requested != "auto":
        return requested, ""
    if device != "cuda":
        return "none", "auto: eager on CPU (compile time would exceed what it saves)"
    return "none", "auto: eager until bench/gpu_check.sh measures compiled layers faster"


def choose_speed(*, device: str, kernels: Kernels, compile: Compile, liger_blocker: str,
                 precision: str = "bfloat16") -> SpeedChoice:
    """The kernels and compilation to train with, and why.

    Args:
        liger_blocker: why Liger cannot run here ("" when it can; see ``liger_blocker``).
        precision: the base's precision as loaded (``BaseLoad.precision``).

    Raises:
        StepInputError: ``kernels`` is 'liger' where Liger cannot run.
    """
    used_kernels, kernels_note = _choose_kernels(kernels, liger_blocker, precision)
    used_compile, compile_note = _choose_compile(compile, device=device)
    return SpeedChoice(kernels, used_kernels, kernels_note, compile, used_compile, compile_note)


def apply_kernels(model: Any, choice: SpeedChoice) -> None:
    """Patch ``model`` (the base, before LoRA wraps it) with the chosen kernels.

    Liger replaces this instance's RMSNorm and MLP forwards and its causal-LM forward (the fused
    loss, taken in training mode only: evaluation still gets logits), and the architecture's
    RoPE function for the process: a step process trains one model, so that is harmless.
    """
    if choice.kernels != "liger":
        return
    from liger_kernel.transformers import _apply_liger_kernel_to_instance

    _apply_liger_kernel_to_instance(model=model, rope=True, rms_norm=True, swiglu=True,
                                    cross_entropy=False, fused_linear_cross_entropy=True)


def decoder_layers(model: Any) -> list[Any]:
    """The repeated blocks of ``model`` (any wrapper: PEFT, a causal-LM head): the modules whose
    class the model names in ``_no_split_modules`` (e.g. LlamaDecoderLayer)."""
    names: set[str] = set()
    for m in model.modules():
        names.update(getattr(m, "_no_split_modules", None) or ())
    return [m for m in model.modules() if type(m).__name__ in names]


def compile_layers(model: Any, choice: SpeedChoice, *, backend: str = "inductor") -> int:
    """Compile each decoder layer of ``model`` in place (after LoRA is added); returns how many.

    Compiled with dynamic shapes from the start: packed batches change their row count and
    width every step, and shape-specialised graphs would each be compiled (dynamo gives up on a
    function after 8). What remains: the first layer's input needs no gradient (frozen
    embeddings) and the others' do, and evaluation runs without gradients: four graphs in all,
    all compiled during the first steps and evaluation.
    """
    if choice.compile != "layers":
        return 0
    layers = decoder_layers(model)
    for layer in layers:
        layer.compile(backend=backend, dynamic=True)
    return len(layers)


def uncompile_layers(model: Any) -> None:
    """Undo ``compile_layers`` (the bench runs eager variants after compiled ones)."""
    for layer in decoder_layers(model):
        layer._compiled_call_impl = None
