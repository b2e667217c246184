"""The speed options: every branch of ``choose_speed``, the gating of Liger, the spec plumbing,
and compiled decoder layers computing what eager layers compute (on CPU).

Liger's kernels are Triton (CUDA only), so here they are tested as a decision and as plumbing;
``test_packing_isolation.py`` runs them on CUDA, where ``bench/gpu_check.sh`` runs it.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from nativejobs.errors import StepInputError
from nativejobs.spec import TrainingSpec
from nativejobs.steps.train import Params
from nativejobs.training.speed import (
    SpeedChoice,
    apply_kernels,
    choose_speed,
    compile_layers,
    decoder_layers,
    liger_blocker,
    uncompile_layers,
)
from tests.unit.training.conftest import random_examples, tiny_lora_model

NOT_INSTALLED = "liger-kernel is not installed (pip install liger-kernel, or the gpu extra)"


def _choose(device: str = "cuda", kernels: Any = "auto", compile: Any = "auto", *,
            blocker: str = "") -> SpeedChoice:
    return choose_speed(device=device, kernels=kernels, compile=compile, liger_blocker=blocker)


@pytest.mark.parametrize(("device", "kernels", "blocker", "used", "note"), [
    pytest.param("cuda", "auto", "", "liger", "auto: Liger's fused", id="auto-cuda-liger"),
    pytest.param("cuda", "auto", NOT_INSTALLED, "none", "auto: liger-kernel is not installed",
                 id="auto-cuda-not-installed"),
    pytest.param("cuda", "auto", "liger-kernel has no kernels for model type 'gpt2'", "none",
                 "no kernels for model type 'gpt2'", id="auto-cuda-unsupported-model"),
    pytest.param("cpu", "auto", "Liger's Triton kernels need CUDA", "none", "need CUDA", id="auto-cpu"),
    pytest.param("cuda", "liger", "", "liger", "", id="liger-cuda"),
    pytest.param("cuda", "none", "", "none", "", id="none-cuda-as-asked"),
    pytest.param("cpu", "none", "Liger's Triton kernels need CUDA", "none", "", id="none-cpu"),
])
def test_kernels(device: str, kernels: str, blocker: str, used: str, note: str) -> None:
    choice = _choose(device, kernels, blocker=blocker)

    assert (choice.kernels_requested, choice.kernels) == (kernels, used)
    assert note in choice.kernels_note and bool(choice.kernels_note) == bool(note)


@pytest.mark.parametrize(("kernels", "used", "note"), [
    pytest.param("auto", "none", "Liger over an 8-bit base is not yet measured", id="auto-int8"),
    pytest.param("liger", "liger", "", id="liger-int8-as-asked"),
])
def test_an_8bit_base_gets_liger_only_when_asked(kernels: str, used: str, note: str) -> None:
    choice = choose_speed(device="cuda", kernels=kernels, compile="auto", liger_blocker="",  # type: ignore[arg-type]
                          precision="int8")

    assert choice.kernels == used and note in choice.kernels_note


@pytest.mark.parametrize("blocker", [
    pytest.param("Liger's Triton kernels need CUDA", id="cpu"),
    pytest.param(NOT_INSTALLED, id="not-installed"),
    pytest.param("liger-kernel does not import: ImportError: no triton", id="broken-install"),
])
def test_explicit_liger_where_it_cannot_run_is_bad_input(blocker: str) -> None:
    """One line that says what to do (the step exits 3, never retried), not a traceback."""
    with pytest.raises(StepInputError) as e:
        _choose("cpu", "liger", blocker=blocker)

    assert str(e.value) == (f"training.kernels is 'liger' but {blocker}; use kernels: auto (Liger "
                            "where it can run) or kernels: none")
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(("device", "compile", "used", "note"), [
    pytest.param("cpu", "auto", "none", "auto: eager on CPU", id="auto-cpu"),
    pytest.param("cuda", "auto", "none", "until bench/gpu_check.sh measures", id="auto-cuda"),
    pytest.param("cpu", "layers", "layers", "", id="layers-cpu-as-asked"),
    pytest.param("cuda", "layers", "layers", "", id="layers-cuda"),
    pytest.param("cuda", "none", "none", "", id="none-cuda"),
])
def test_compile(device: str, compile: str, used: str, note: str) -> None:
    choice = _choose(device, "none", compile)

    assert choice.compile == used
    assert note in choice.compile_note and bool(choice.compile_note) == bool(note)


def test_cpu_defaults_keep_todays_behaviour() -> None:
    t = TrainingSpec()
    choice = _choose("cpu", t.kernels, t.compile, blocker=liger_blocker(device="cpu", model_type="llama"))

    assert (choice.kernels, choice.compile) == ("none", "none")


def test_liger_blocker_on_cpu_needs_no_import() -> None:
    assert liger_blocker(device="cpu", model_type="llama") == "Liger's Triton kernels need CUDA"


def test_liger_blocker_on_cuda_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "liger_kernel" else real(name, *a))

    assert liger_blocker(device="cuda", model_type="llama") == NOT_INSTALLED


def test_the_record_says_what_was_asked_and_used() -> None:
    record = _choose("cuda", "auto", "layers").as_record()

    assert record == {"kernels_requested": "auto", "kernels": "liger",
                      "kernels_note": "auto: Liger's fused RMSNorm, SwiGLU, RoPE and linear cross-entropy",
                      "compile_requested": "layers", "compile": "layers", "compile_note": ""}


# -- spec plumbing ---------------------------------------------------------------------------

def test_auto_stays_out_of_the_dump_so_train_keys_do_not_move() -> None:
    dump = TrainingSpec().model_dump(mode="json")

    assert "kernels" not in dump and "compile" not in dump
    assert Params.model_validate({"model": {"id": "m"}, "training": dump, "lr": 1e-4, "mode": "mono",
                                  "language": "es"}).training.kernels == "auto"


@pytest.mark.parametrize(("field", "value"), [("kernels", "liger"), ("kernels", "none"),
                                              ("compile", "layers"), ("compile", "none")])
def test_an_explicit_choice_is_in_the_dump_and_reaches_the_step(field: str, value: str) -> None:
    dump = TrainingSpec(**{field: value}).model_dump(mode="json")

    assert dump[field] == value
    params = Params.model_validate({"model": {"id": "m"}, "training": dump, "lr": 1e-4, "mode": "mono",
                                    "language": "es"})
    assert getattr(params.training, field) == value


def test_an_unknown_kernel_is_a_spec_error() -> None:
    with pytest.raises(ValueError, match="kernels"):
        TrainingSpec(kernels="unsloth")  # type: ignore[arg-type]


# -- application -----------------------------------------------------------------------------

def test_no_kernels_leaves_the_model_alone() -> None:
    model = tiny_lora_model()
    forwards = [m.forward for m in model.modules()]

    apply_kernels(model, _choose("cpu", "none", "none"))

    assert [m.forward for m in model.modules()] == forwards


def test_decoder_layers_are_found_through_the_peft_wrapper() -> None:
    layers = decoder_layers(tiny_lora_model())

    assert [type(m).__name__ for m in layers] == ["LlamaDecoderLayer"] * 2


def test_compiled_layers_compute_what_eager_layers_compute() -> None:
    """Same loss and LoRA gradients (aot_eager: dynamo's graph and autograd, no codegen, so it
    runs in seconds on CPU; the CUDA check runs inductor)."""
    examples = random_examples([7, 19, 5, 12])
    from nativejobs.training.packing import PackedCollator

    batch = PackedCollator(row_tokens=24, pad_id=0)(examples)  # type: ignore[arg-type]

    def loss_and_grads(model: Any) -> tuple[float, dict[str, torch.Tensor]]:
        loss = model(**batch).loss
        loss.backward()
        return loss.item(), {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}

    eager_loss, eager_grads = loss_and_grads(tiny_lora_model())
    model = tiny_lora_model()
    assert compile_layers(model, _choose("cpu", "none", "layers"), backend="aot_eager") == 2
    compiled_loss, compiled_grads = loss_and_grads(model)

    assert compiled_loss == pytest.approx(eager_loss, abs=1e-5)
    for name, g in eager_grads.items():
        torch.testing.assert_close(compiled_grads[name], g, rtol=1e-4, atol=1e-5, msg=name)
    uncompile_layers(model)
    assert all(layer._compiled_call_impl is None for layer in decoder_layers(model))


def test_compile_none_compiles_nothing() -> None:
    model = tiny_lora_model()

    assert compile_layers(model, _choose("cpu", "none", "none")) == 0
    assert all(layer._compiled_call_impl is None for layer in decoder_layers(model))
