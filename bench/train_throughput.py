"""LoRA training throughput: the train step's batching against a naive padded loop.

One run, one model, one Aya-like length distribution (lognormal, median 180 tokens, cap 1024;
the first ~30% of each sequence is prompt and unscored). Variants, each fed the same examples:

  naive_padded   plain transformers + PEFT loop, one right-padded row per example
  packed_loop    plain loop over the train step's packed micro-batches (isolation on)
  train_step     the train step's own path: RecipeTrainer (transformers Trainer) + packed batches

Prints useful (non-pad) tokens/s, model-FLOPs utilisation (LoRA: 4·N FLOPs per token: forward
2N + activation gradients 2N, no frozen-weight gradients; N = the base's matmul weights, i.e.
without the input embedding table, a lookup: 2% below the reference scripts' N on the 7B shape,
28% below on the tiny one) and peak memory for each, and the ratios to the naive loop. On CPU
it runs a tiny Llama-shaped model; on CUDA a Llama-2-7B-shaped one (random weights: speed does
not depend on them). CPU figures on a shared machine are noisy (one thread by default, which
steadies them); compare variants within a run. Peak memory on CPU is the process's RSS while a
variant runs; the variants share one process, so a later one's figure is an upper bound.

    python bench/train_throughput.py                  # auto: tiny on CPU, 7b on CUDA
    python bench/train_throughput.py --config 7b --steps 10 --json out.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from transformers import LlamaConfig, LlamaForCausalLM, TrainerCallback

from nativejobs.spec import TrainingSpec
from nativejobs.training.data import IGNORE, Example
from nativejobs.training.model import add_lora, choose_load
from nativejobs.training.packing import PackedCollator, PaddedCollator
from nativejobs.training.recipe import RecipeTrainer, choose_micro_batch, training_arguments

CONFIGS = {
    # Llama-2-7B's shape.
    "7b": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
               num_key_value_heads=32, vocab_size=32000),
    # Small enough for two busy CPU cores, same architecture.
    "tiny": dict(hidden_size=256, intermediate_size=688, num_hidden_layers=4, num_attention_heads=4,
                 num_key_value_heads=4, vocab_size=8192),
}
# Dense bf16 peak FLOP/s of known GPUs (vendor figures, no sparsity).
PEAKS = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A10G": 125e12, "4090": 165e12}


@dataclass
class Result:
    variant: str
    examples_per_step: int
    useful_tokens_per_s: float
    mfu: float
    pad_fraction: float
    peak_mem_gib: float
    steps_timed: int
    mean_tokens_per_s: float

    def row(self) -> str:
        return (f"{self.variant:<13} {self.examples_per_step:>8} {self.useful_tokens_per_s:>12,.0f} "
                f"{self.mfu:>7.1%} {self.pad_fraction:>6.1%} {self.peak_mem_gib:>9.2f}")


def aya_like_lengths(n: int, rng: random.Random, *, cap: int = 1024) -> list[int]:
    return [max(16, min(cap, int(rng.lognormvariate(math.log(180), 0.8)))) for _ in range(n)]


def make_examples(n: int, vocab: int, seed: int) -> list[Example]:
    rng = random.Random(seed)
    out: list[Example] = []
    for length in aya_like_lengths(n, rng):
        ids = [rng.randrange(3, vocab) for _ in range(length)]
        prompt = max(1, int(0.3 * length))
        out.append({"input_ids": ids, "labels": [IGNORE] * prompt + ids[prompt:]})
    return out


def peak_flops(device: str) -> tuple[float, str]:
    """The denominator of MFU: a vendor figure for known GPUs, else a measured matmul rate."""
    if device == "cuda":
        name = torch.cuda.get_device_name(0)
        for key, value in PEAKS.items():
            if key in name:
                return value, f"{name} dense bf16 (vendor)"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    n = 2048
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    best = 0.0
    for _ in range(5):
        _sync(device)
        t = time.perf_counter()
        for _ in range(4):
            a @ b
        _sync(device)
        best = max(best, 4 * 2 * n**3 / (time.perf_counter() - t))
    return best, f"measured {dtype} {n}² matmul on {device}, best of 5"


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _rss_gib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**30


@contextmanager
def peak_memory(device: str) -> Iterator[list[float]]:
    """Yields a one-item list that holds the peak (GiB) once the block ends: CUDA allocator
    peak on GPU, sampled process RSS on CPU."""
    out = [0.0]
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        yield out
        out[0] = torch.cuda.max_memory_allocated() / 2**30
        return
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            out[0] = max(out[0], _rss_gib())
            stop.wait(0.05)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield out
    finally:
        stop.set()
        thread.join()


def build_model(config: str, device: str, attention: str) -> tuple[Any, int]:
    torch.manual_seed(0)
    cfg = LlamaConfig(**CONFIGS[config], max_position_embeddings=4096, attn_implementation=attention)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    with torch.device(device):
        base = LlamaForCausalLM(cfg).to(dtype)
    n_params = sum(m.weight.numel() for m in base.modules() if isinstance(m, torch.nn.Linear))
    model = add_lora(base, r=8, alpha=16, dropout=0.05, target_modules=["q_proj", "k_proj", "v_proj"])
    return model, n_params


def _summarise(variant: str, per_step: int, steps: list[tuple[int, int, float]], n_params: int,
               peak: float, peak_gib: float) -> Result:
    """Headline rate: the median over steps of useful tokens/s, robust to a shared machine's
    bursts (on a dedicated GPU it equals the mean within a few %; the mean is kept too)."""
    useful = sum(u for u, _, _ in steps)
    total = sum(t for _, t, _ in steps)
    tps = statistics.median(u / s for u, _, s in steps)
    mean = useful / sum(s for _, _, s in steps)
    return Result(variant, per_step, tps, tps * 4 * n_params / peak, 1 - useful / total, peak_gib,
                  len(steps), mean)


def run_loop(model: Any, batches: list[list[Example]], collate: Callable[[list[Example]], Any],
             device: str, warm: int) -> list[tuple[int, int, float]]:
    """A plain loop; each step timed end to end (collation included)."""
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    model.train()
    out = []
    _sync(device)
    last = time.perf_counter()
    for i, batch in enumerate(batches):
        inputs = {k: v.to(device) for k, v in collate(batch).items()}
        with torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"):
            loss = model(**inputs).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        _sync(device)
        now = time.perf_counter()
        if i >= warm:
            out.append((sum(len(e["input_ids"]) for e in batch), inputs["input_ids"].numel(), now - last))
        last = now
    return out


class _StepTimer(TrainerCallback):
    def __init__(self, device: str, warm: int, batches: list[list[Example]],
                 collate: Callable[[list[Example]], Any]) -> None:
        self.device, self.warm, self.batches, self.collate = device, warm, batches, collate
        self.out: list[tuple[int, int, float]] = []
        self.last = 0.0

    def on_train_begin(self, *args: Any, **kwargs: Any) -> None:
        _sync(self.device)
        self.last = time.perf_counter()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        _sync(self.device)
        now = time.perf_counter()
        i = state.global_step - 1
        if i >= self.warm:
            batch = self.batches[i]
            self.out.append((sum(len(e["input_ids"]) for e in batch),
                             self.collate(batch)["input_ids"].numel(), now - self.last))
        self.last = now


def run_trainer(model: Any, batches: list[list[Example]], collate: Callable[[list[Example]], Any],
                device: str, warm: int, workdir: str) -> list[tuple[int, int, float]]:
    """The train step's path: RecipeTrainer with the step's arguments, one epoch, no shuffling
    (so it sees exactly the loops' micro-batches), no evaluation set."""
    args = training_arguments(output_dir=workdir, micro_batch=len(batches[0]), accumulation=1,
                              epochs=1, lr=1e-4, scheduler="constant", warmup_steps=0,
                              weight_decay=0.0, max_grad_norm=1.0, seed=0, bf16=device == "cuda",
                              cuda=device == "cuda", shuffle=False)
    timer = _StepTimer(device, warm, batches, collate)
    trainer = RecipeTrainer(model=model, args=args, data_collator=collate,
                            train_dataset=[e for b in batches for e in b], eval_dataset=[],
                            eval_collate=collate, callbacks=[timer])
    trainer.train()
    return timer.out


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=["auto", *CONFIGS], default="auto")
    parser.add_argument("--steps", type=int, default=0, help="timed steps per variant (0: 5 CPU, 10 CUDA)")
    parser.add_argument("--warm", type=int, default=1, help="untimed warm-up steps per variant")
    parser.add_argument("--naive-batch", type=int, default=0,
                        help="examples per naive step (0: 8 CPU, 16 CUDA as in the reference)")
    recipe = TrainingSpec()
    parser.add_argument("--effective-batch", type=int, default=recipe.effective_batch_size)
    parser.add_argument("--pack-tokens", type=int, default=recipe.pack_tokens, help="packed row length")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (0: 1 on CPU, where OpenMP threads stall whenever "
                             "another process takes a core and the figures swing 2-3x; torch's default "
                             "on CUDA)")
    parser.add_argument("--json", default="", help="also write the results here")
    return parser.parse_args()


def run_variant(variant: str, model: Any, batches: list[list[Example]], packed: PackedCollator,
                device: str, warm: int) -> tuple[list[tuple[int, int, float]], float]:
    """(timed steps, peak memory GiB) of one variant."""
    with peak_memory(device) as mem:
        if variant == "naive_padded":
            timed = run_loop(model, batches, PaddedCollator(pad_id=0), device, warm)
        elif variant == "packed_loop":
            timed = run_loop(model, batches, packed, device, warm)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                timed = run_trainer(model, batches, packed, device, warm, tmp)
    return timed, mem[0]


def report(results: list[Result], device: str) -> dict[str, float]:
    mem_label = "peak GiB (CUDA alloc)" if device == "cuda" else "peak RSS GiB"
    print(f"\n{'variant':<13} {'ex/step':>8} {'useful tok/s':>12} {'MFU':>7} {'pad':>6} {mem_label}"
          "   (tok/s: median over steps)")
    for r in results:
        print(r.row())
    base = results[0].useful_tokens_per_s
    ratios = {r.variant: round(r.useful_tokens_per_s / base, 2) for r in results[1:]}
    print("ratio to naive_padded (useful tokens/s): " + ", ".join(f"{k} {v:.2f}×" for k, v in ratios.items()))
    return ratios


def main() -> None:
    a = parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    threads = a.threads or (1 if device == "cpu" else 0)
    if threads:
        torch.set_num_threads(threads)
    config = a.config if a.config != "auto" else ("7b" if device == "cuda" else "tiny")
    steps = a.steps or (10 if device == "cuda" else 5)
    naive_batch = a.naive_batch or (16 if device == "cuda" else 8)
    # The train step's own choice for a bf16 (CUDA) or fp32 (CPU) base with attention 'auto'.
    choice = choose_load(device=device, precision="bfloat16" if device == "cuda" else "float32",
                         attention="auto", has_bitsandbytes=False,
                         has_flash_attn=importlib.util.find_spec("flash_attn") is not None)
    attention = choice.attention
    model, n_params = build_model(config, device, attention)
    peak, peak_how = peak_flops(device)
    vocab = CONFIGS[config]["vocab_size"]
    packed = PackedCollator(None if attention.startswith("flash") else a.pack_tokens, pad_id=0)
    # The train step's micro-batch: its own choice (a memory probe on CUDA).
    micro, how = choose_micro_batch(model, make_examples(a.effective_batch, vocab, 99), packed,
                                    effective=a.effective_batch, device=device)
    print(f"device={device} threads={torch.get_num_threads()} config={config} "
          f"matmul params={n_params / 1e6:.1f}M attention={attention} ({choice.attention_note}) "
          f"peak={peak / 1e12:.2f} TFLOP/s ({peak_how})", flush=True)
    print(f"naive: {naive_batch} examples/step; train step: micro-batch {micro} ({how}), rows of "
          f"{packed.row_tokens or 'all'} tokens; {steps} timed + {a.warm} warm-up steps each", flush=True)
    results = []
    for variant, per_step in (("naive_padded", naive_batch), ("packed_loop", micro), ("train_step", micro)):
        examples = make_examples(per_step * (steps + a.warm), vocab, seed=1)
        batches = [examples[i : i + per_step] for i in range(0, len(examples), per_step)]
        timed, peak_gib = run_variant(variant, model, batches, packed, device, a.warm)
        results.append(_summarise(variant, per_step, timed, n_params, peak, peak_gib))
        print(json.dumps(vars(results[-1])), flush=True)
    ratios = report(results, device)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"device": device, "config": config, "params": n_params, "attention": attention,
                       "peak_flops": peak, "peak_how": peak_how, "micro_batch": micro,
                       "results": [vars(r) for r in results], "ratios": ratios}, fh, indent=1)


if __name__ == "__main__":
    main()
