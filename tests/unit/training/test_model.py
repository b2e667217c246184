"""How the base is loaded: every branch of ``choose_load`` and the arguments each choice gives.

The 8-bit and flash-attention paths need CUDA, so they are not run here; what is tested is the
decision (a pure function of device, installed kernels and request) and the ``from_pretrained``
arguments it produces, which are what a GPU run would use.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from nativejobs.errors import StepInputError
from nativejobs.training.model import LoadChoice, choose_load, pretrained_kwargs


def _choose(device: str = "cuda", precision: Any = "int8", attention: Any = "auto", *, bnb: bool = True,
            flash: bool = True) -> LoadChoice:
    return choose_load(device=device, precision=precision, attention=attention, has_bitsandbytes=bnb,
                       has_flash_attn=flash)


@pytest.mark.parametrize(("device", "precision", "bnb", "used", "note"), [
    pytest.param("cuda", "int8", True, "int8", "", id="int8-cuda-bnb"),
    pytest.param("cuda", "int8", False, "bfloat16", "bitsandbytes is not installed", id="int8-cuda-no-bnb"),
    pytest.param("cpu", "int8", True, "float32", "8-bit loading needs CUDA", id="int8-cpu"),
    pytest.param("cpu", "int8", False, "float32", "8-bit loading needs CUDA", id="int8-cpu-no-bnb"),
    pytest.param("cuda", "bfloat16", False, "bfloat16", "", id="bf16-cuda"),
    pytest.param("cpu", "bfloat16", False, "bfloat16", "", id="bf16-cpu-as-asked"),
    pytest.param("cuda", "float32", True, "float32", "", id="fp32-cuda"),
    pytest.param("cpu", "float32", False, "float32", "", id="fp32-cpu"),
])
def test_precision(device: str, precision: str, bnb: bool, used: str, note: str) -> None:
    choice = _choose(device, precision, "sdpa", bnb=bnb)

    assert choice.precision == used
    assert (note in choice.precision_note) and (bool(choice.precision_note) == bool(note))


@pytest.mark.parametrize(("device", "precision", "flash", "attention", "note"), [
    pytest.param("cuda", "int8", True, "flash_attention_2", "flash-attn varlen", id="cuda-int8-flash"),
    pytest.param("cuda", "bfloat16", True, "flash_attention_2", "flash-attn varlen", id="cuda-bf16-flash"),
    pytest.param("cuda", "bfloat16", False, "sdpa", "flash-attn is not installed", id="cuda-no-flash"),
    # fp32 activations would reach flash-attn's kernels, which run in 16 bits only.
    pytest.param("cuda", "float32", True, "sdpa", "base is fp32", id="cuda-fp32"),
    pytest.param("cpu", "int8", True, "sdpa", "needs CUDA", id="cpu"),
    pytest.param("cpu", "float32", False, "sdpa", "needs CUDA", id="cpu-no-flash"),
])
def test_auto_attention(device: str, precision: str, flash: bool, attention: str, note: str) -> None:
    choice = _choose(device, precision, "auto", flash=flash)

    assert choice.attention == attention
    assert note in choice.attention_note and choice.attention_note.startswith("auto: ")


def test_auto_attention_follows_the_precision_actually_used() -> None:
    """int8 asked on CUDA without bitsandbytes: a bf16 base, so flash attention still runs."""
    choice = _choose("cuda", "int8", "auto", bnb=False, flash=True)

    assert (choice.precision, choice.attention) == ("bfloat16", "flash_attention_2")


@pytest.mark.parametrize("attention", ["sdpa", "eager", "flex_attention"])
def test_an_explicit_attention_is_used_as_asked(attention: Any) -> None:
    assert _choose("cpu", "float32", attention, flash=False) == LoadChoice("float32", "", attention, "")


def test_explicit_flash_attention_where_it_can_run() -> None:
    assert _choose("cuda", "bfloat16", "flash_attention_2").attention == "flash_attention_2"


@pytest.mark.parametrize(("device", "precision", "flash", "why"), [
    pytest.param("cpu", "float32", True, "needs CUDA", id="cpu"),
    pytest.param("cuda", "bfloat16", False, "flash-attn is not installed", id="not-installed"),
    pytest.param("cuda", "float32", True, "base is fp32", id="fp32"),
])
def test_explicit_flash_attention_where_it_cannot_run_is_bad_input(device: str, precision: str,
                                                                   flash: bool, why: str) -> None:
    """Not a silent fallback, and not transformers' ImportError at load (exit 1, retried)."""
    with pytest.raises(StepInputError, match=f"training.attention is 'flash_attention_2' but .*{why}"):
        _choose(device, precision, "flash_attention_2", flash=flash)


def test_int8_loads_with_bitsandbytes_on_gpu0_and_bf16_compute() -> None:
    kwargs = pretrained_kwargs(LoadChoice("int8", "", "flash_attention_2", ""), revision="abc")

    assert kwargs["quantization_config"].load_in_8bit and not kwargs["quantization_config"].load_in_4bit
    assert (kwargs["dtype"], kwargs["device_map"]) == (torch.bfloat16, {"": 0})
    assert (kwargs["attn_implementation"], kwargs["revision"]) == ("flash_attention_2", "abc")


@pytest.mark.parametrize(("precision", "dtype"), [
    pytest.param("bfloat16", torch.bfloat16, id="bf16"), pytest.param("float32", torch.float32, id="fp32"),
])
def test_unquantised_loads_in_the_chosen_dtype(precision: str, dtype: torch.dtype) -> None:
    kwargs = pretrained_kwargs(LoadChoice(precision, "", "sdpa", ""), revision=None)

    assert kwargs == {"revision": None, "attn_implementation": "sdpa", "dtype": dtype}
