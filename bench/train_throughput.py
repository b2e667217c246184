"""LoRA training throughput: the train step's speed options against a naive padded loop.

One run, one model, one Aya-like length distribution (lognormal, median 180 tokens, cap 1024;
the first ~30% of each sequence is prompt and unscored). Variants, each fed the same examples
(in this order: Liger's patches cannot be undone, so its variants come after the others):

  naive_padded        plain transformers + PEFT loop, one right-padded row per example
  packed_loop         plain loop over the train step's packed micro-batches (isolation on)
  train_step          the train step's path (RecipeTrainer + packed batches), speed options off
  +flex               attention flex_attention (document BlockMask from the position resets)
  +flex_4k            the same with packed rows of 4,096 tokens (--long-rows)
  +compile            training.compile: layers (torch.compile of each decoder layer)
  +liger              training.kernels: liger (fused RMSNorm, SwiGLU, RoPE, linear cross-entropy)
  +liger_flex_4k      both
  +liger_compile      both
  int8                the paper's 8-bit base (bitsandbytes), loaded by the train step's own
                      ``load_base`` from --checkpoint, with the step's default speed options
  int8+liger          the same 8-bit model with Liger's kernels (not yet an 'auto' choice)

A variant that cannot run here is printed with the reason (no CUDA, package missing). Prints
useful (non-pad) tokens/s, model-FLOPs utilisation (LoRA: 4·N FLOPs per token: forward 2N +
activation gradients 2N, no frozen-weight gradients; N = the base's matmul weights, without the
input embedding table, a lookup), the padding fraction and the peak memory of each, and the
ratios to naive_padded and to train_step. ``*`` marks the step's defaults for a 16-bit base on
this machine. On CPU it runs a tiny Llama-shaped model; on CUDA a Llama-2-7B-shaped one (random
weights: speed does not depend on them). CPU figures on a shared machine are noisy (one thread
by default, which steadies them); compare variants within a run. Peak memory is the CUDA
allocator's peak per variant (weights included: what a card must hold), or on CPU the process's
RSS while a variant runs (the variants share one process, so a later figure is an upper bound).

    python bench/train_throughput.py                  # auto: tiny on CPU, 7b on CUDA
    python bench/train_throughput.py --config 7b --steps 6 --warm 2 --checkpoint /tmp/nj-7b \\
        --json out.json                                # a checkpoint from bench/synthetic.py
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import math
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import CONFIGS, SPECIAL, auto_config, random_llama

from nativejobs.spec import TrainingSpec
from nativejobs.training.data import IGNORE, Example
from nativejobs.training.model import add_lora, choose_load, load_base
from nativejobs.training.packing import PackedCollator, PaddedCollator
from nativejobs.training.recipe import RecipeTrainer, choose_micro_batch, training_arguments
from nativejobs.training.speed import (
    SpeedChoice,
    apply_kernels,
    choose_speed,
    compile_layers,
    liger_blocker,
    uncompile_layers,
)

# Dense bf16 peak FLOP/s of known GPUs (vendor figures, no sparsity).
PEAKS = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A10G": 125e12, "4090": 165e12}
LORA = dict(r=8, alpha=16, dropout=0.05, target_modules=["q_proj", "k_proj", "v_proj"])


@dataclass(frozen=True)
class Variant:
    name: str
    loop: str  # "naive" | "packed" | "step"
    attention: str = "auto"  # auto: the train step's own choice (choose_load)
    long_rows: bool = False  # rows of --long-rows tokens instead of --pack-tokens
    kernels: str = "none"
    compile: str = "none"
    int8: bool = False


VARIANTS = (
    Variant("naive_padded", "naive"), Variant("packed_loop", "packed"), Variant("train_step", "step"),
    Variant("+flex", "step", attention="flex_attention"),
    Variant("+flex_4k", "step", attention="flex_attention", long_rows=True),
    Variant("+compile", "step", compile="layers"),
    Variant("+liger", "step", kernels="liger"),
    Variant("+liger_flex_4k", "step", attention="flex_attention", long_rows=True, kernels="liger"),
    Variant("+liger_compile", "step", kernels="liger", compile="layers"),
    Variant("int8", "step", kernels="auto", int8=True),
    Variant("int8+liger", "step", kernels="liger", int8=True),
)


@dataclass
class Result:
    variant: str
    examples_per_step: int
    useful_tokens_per_s: float = 0.0
    mfu: float = 0.0
    pad_fraction: float = 0.0
    peak_mem_gib: float = 0.0
    steps_timed: int = 0
    mean_tokens_per_s: float = 0.0
    skipped: str = ""  # why the variant did not run here
    setup: dict[str, Any] = field(default_factory=dict)  # attention, rows, kernels, compile used

    def row(self, naive: float, step: float, mark: str) -> str:
        name = f"{self.variant}{mark}"
        if self.skipped:
            return f"{name:<17} skipped: {self.skipped}"
        return (f"{name:<17} {self.examples_per_step:>7} {self.useful_tokens_per_s:>12,.0f} "
                f"{self.mfu:>7.1%} {self.pad_fraction:>6.1%} {self.peak_mem_gib:>8.2f} "
                f"{_ratio(self.useful_tokens_per_s, naive):>8} {_ratio(self.useful_tokens_per_s, step):>8}")


def _ratio(x: float, base: float) -> str:
    return f"{x / base:.2f}×" if base else "n/a"


def aya_like_lengths(n: int, rng: random.Random, *, cap: int = 1024) -> list[int]:
    return [max(16, min(cap, int(rng.lognormvariate(math.log(180), 0.8)))) for _ in range(n)]


def make_examples(n: int, vocab: int, seed: int) -> list[Example]:
    rng = random.Random(seed)
    out: list[Example] = []
    for length in aya_like_lengths(n, rng):
        ids = [rng.randrange(len(SPECIAL), vocab) for _ in range(length)]
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


def matmul_params(model: Any) -> int:
    return sum(m.weight.numel() for m in model.modules()
               if isinstance(m, torch.nn.Linear) and not hasattr(m, "lora_A"))


def _summarise(variant: str, per_step: int, steps: list[tuple[int, int, float]], n_params: int,
               peak: float, peak_gib: float, setup: dict[str, Any]) -> Result:
    """Headline rate: the median over steps of useful tokens/s, robust to a shared machine's
    bursts (on a dedicated GPU it equals the mean within a few %; the mean is kept too)."""
    useful = sum(u for u, _, _ in steps)
    total = sum(t for _, t, _ in steps)
    tps = statistics.median(u / s for u, _, s in steps)
    mean = useful / sum(s for _, _, s in steps)
    return Result(variant, per_step, tps, tps * 4 * n_params / peak, 1 - useful / total, peak_gib,
                  len(steps), mean, setup=setup)


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


@dataclass
class Bench:
    """The shared state of one run: the model the 16-bit variants share, and what is applied."""

    device: str
    config: str
    a: argparse.Namespace
    attention: str  # the step's own choice for 'auto'
    model: Any = None
    n_params: int = 0
    micro: int = 0  # the train step's micro-batch, chosen on the first model (kept for all)
    micro_how: str = ""
    liger_applied: bool = False
    int8_model: Any = None  # the 8-bit variants share one load
    int8_setup: dict[str, Any] = field(default_factory=dict)
    flex_why: str | None = None

    def build(self) -> None:
        dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
        base = random_llama(self.config, device=self.device, dtype=dtype, attention=self.attention)
        self.n_params = matmul_params(base)
        self.model = add_lora(base, **LORA)  # type: ignore[arg-type]

    def choose_micro(self, model: Any, collate: PackedCollator) -> None:
        """The train step's own choice (a memory probe on CUDA), once."""
        if not self.micro:
            vocab = CONFIGS[self.config]["vocab_size"]
            self.micro, self.micro_how = choose_micro_batch(
                model, make_examples(self.a.effective_batch, vocab, 99), collate,
                effective=self.a.effective_batch, device=self.device)
            print(f"train step micro-batch {self.micro} ({self.micro_how})", flush=True)

    def flex_blocker(self) -> str:
        if self.flex_why is None:
            self.flex_why = _flex_blocker(self.device)
        return self.flex_why


def _flex_blocker(device: str) -> str:
    if device != "cuda":
        return f"flex_attention has no backward on CPU (torch {torch.__version__})"
    try:
        probe = random_llama("tiny", device=device, attention="flex_attention", dtype=torch.bfloat16)
        probe(input_ids=torch.tensor([[5, 6, 7, 8]], device=device)).logits.sum().backward()
    except Exception as e:
        return f"flex_attention does not run here ({type(e).__name__}: {str(e).splitlines()[0][:120]})"
    return ""


def variant_blocker(v: Variant, b: Bench) -> str:
    """Why ``v`` cannot run here; "" when it can."""
    if v.kernels == "liger" and (why := liger_blocker(device=b.device, model_type="llama")):
        return why
    if v.attention == "flex_attention" and (why := b.flex_blocker()):
        return why
    if v.kernels != "liger" and v.loop == "step" and b.liger_applied:
        return "runs before Liger's variants only (its patches cannot be undone); use --variants"
    if v.int8:
        if b.device != "cuda":
            return "8-bit loading needs CUDA"
        if importlib.util.find_spec("bitsandbytes") is None:
            return "bitsandbytes is not installed (the gpu extra)"
        if not b.a.checkpoint:
            return "needs --checkpoint DIR (python bench/synthetic.py --out DIR writes one)"
    return ""


def _speed(v: Variant, device: str) -> SpeedChoice:
    return choose_speed(device=device, kernels=v.kernels, compile=v.compile,  # type: ignore[arg-type]
                        liger_blocker=liger_blocker(device=device, model_type="llama"),
                        precision="int8" if v.int8 else "bfloat16")


def _load_int8(b: Bench) -> None:
    """The train step's own 8-bit load of --checkpoint, LoRA on top (once per run)."""
    b.model = None
    gc.collect()
    torch.cuda.empty_cache()
    started = time.perf_counter()
    base, load = load_base(b.a.checkpoint, revision=None, precision="int8", attention="auto",
                           gradient_checkpointing=False)
    print(f"int8: load_base took {time.perf_counter() - started:.1f} s ({load.precision}, "
          f"{load.precision_note or 'as asked'}); {torch.cuda.memory_allocated() / 2**30:.1f} GiB "
          "allocated", flush=True)
    b.n_params = b.n_params or matmul_params(base)
    b.int8_model = add_lora(base, **LORA)  # type: ignore[arg-type]
    b.int8_setup = {"base": load.precision, "attention": load.attention}


def prepare(v: Variant, b: Bench) -> tuple[Any, dict[str, Any]]:
    """The model for ``v`` (shared, or the 8-bit one) and what it runs with."""
    speed = _speed(v, b.device)
    if v.int8:
        if b.int8_model is None:
            _load_int8(b)
        if speed.kernels == "liger" and not b.liger_applied:
            apply_kernels(b.int8_model.get_base_model(), speed)
            b.liger_applied = True
        compile_layers(b.int8_model, speed)
        return b.int8_model, {**b.int8_setup, "kernels": speed.kernels, "kernels_note": speed.kernels_note,
                              "compile": speed.compile}
    if b.model is None:
        b.build()
    attention = b.attention if v.attention == "auto" else v.attention
    b.model.get_base_model().set_attn_implementation(attention)
    if speed.kernels == "liger" and not b.liger_applied:
        apply_kernels(b.model.get_base_model(), speed)
        b.liger_applied = True
    compile_layers(b.model, speed)
    return b.model, {"attention": attention, "kernels": speed.kernels, "compile": speed.compile}


def run_variant(v: Variant, b: Bench, naive_batch: int, steps: int, peak: float) -> Result:
    per_step = naive_batch if v.loop == "naive" else b.micro
    if why := variant_blocker(v, b):
        return Result(v.name, per_step, skipped=why)
    model = None
    try:
        model, setup = prepare(v, b)
        rows = b.a.long_rows if v.long_rows else b.a.pack_tokens
        packed = PackedCollator(None if setup["attention"].startswith("flash") else rows, pad_id=0)
        # The micro-batch is chosen once, on the default rows (None: one varlen row).
        b.choose_micro(model, PackedCollator(packed.row_tokens and b.a.pack_tokens, pad_id=0))
        per_step = naive_batch if v.loop == "naive" else b.micro
        setup["row_tokens"] = packed.row_tokens
        return _measure(v, b, model, packed, per_step, steps, peak, setup)
    except torch.OutOfMemoryError:
        return Result(v.name, per_step, skipped=f"out of memory at {per_step} examples per step")
    except Exception as e:  # one broken variant must not cost a GPU run the others' figures
        traceback.print_exc()
        return Result(v.name, per_step, skipped=f"failed: {type(e).__name__}: {str(e)[:160]}")
    finally:
        if model is not None and v.compile == "layers":
            uncompile_layers(model)


def _measure(v: Variant, b: Bench, model: Any, packed: PackedCollator, per_step: int, steps: int,
             peak: float, setup: dict[str, Any]) -> Result:
    vocab = CONFIGS[b.config]["vocab_size"]
    examples = make_examples(per_step * (steps + b.a.warm), vocab, seed=1)
    batches = [examples[i : i + per_step] for i in range(0, len(examples), per_step)]
    with peak_memory(b.device) as mem:
        if v.loop == "naive":
            timed = run_loop(model, batches, PaddedCollator(pad_id=0), b.device, b.a.warm)
        elif v.loop == "packed":
            timed = run_loop(model, batches, packed, b.device, b.a.warm)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                timed = run_trainer(model, batches, packed, b.device, b.a.warm, tmp)
    if b.a.profile and v.name == default_variant(b.device):
        profile_step(model, batches[-1], packed, b.device)
    return _summarise(v.name, per_step, timed, b.n_params, peak, mem[0], setup)


KERNEL_CLASSES = (  # first match wins; CUDA kernel names of cuBLAS/CUTLASS, SDPA/flex, Triton, torch
    ("matmul", ("gemm", "cutlass", "sm90_", "nvjet", "xmma", "matmul", "cublas", "aten::mm", "aten::addmm",
                "aten::bmm")),
    ("attention", ("flash", "fmha", "attention", "flex", "efficient_attention")),
    ("triton (liger/compiled)", ("triton",)),
    ("cross-entropy/softmax", ("softmax", "nll", "cross_entropy", "logsumexp")),
    ("norm/reduce", ("reduce", "norm", "mean", "sum_")),
    ("elementwise", ("elementwise", "vectorized", "unrolled", "copy", "fill", "cat", "index")),
)


def kernel_class(name: str) -> str:
    low = name.lower()
    return next((c for c, keys in KERNEL_CLASSES if any(k in low for k in keys)), "other")


def profile_step(model: Any, batch: list[Example], collate: Callable[[list[Example]], Any],
                 device: str) -> None:
    """Device time per kernel class of one forward + backward (where the time goes)."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    activity = ProfilerActivity.CUDA if device == "cuda" else ProfilerActivity.CPU
    inputs = {k: v.to(device) for k, v in collate(batch).items()}
    with profile(activities=[activity]) as prof:
        with torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"):
            loss = model(**inputs).loss
        loss.backward()
        _sync(device)
    model.zero_grad(set_to_none=True)
    totals: dict[str, float] = {}
    for e in prof.key_averages():
        if device == "cuda" and e.device_type != DeviceType.CUDA:
            continue  # kernels only: an op's device time is its kernels' (counted once)
        us = e.self_device_time_total if device == "cuda" else e.self_cpu_time_total
        if us > 0:
            totals[kernel_class(e.key)] = totals.get(kernel_class(e.key), 0.0) + us
    whole = sum(totals.values()) or 1.0
    shares = ", ".join(f"{c} {t / whole:.0%}" for c, t in sorted(totals.items(), key=lambda x: -x[1]))
    print(f"profile of one step ({whole / 1e3:.0f} ms {'device' if device == 'cuda' else 'CPU'} time): "
          f"{shares}", flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=["auto", *CONFIGS], default="auto")
    parser.add_argument("--steps", type=int, default=0, help="timed steps per variant (0: 3 CPU, 8 CUDA)")
    parser.add_argument("--warm", type=int, default=0,
                        help="untimed warm-up steps per variant (0: 1 CPU, 2 CUDA: compiled variants "
                             "recompile once for dynamic lengths)")
    parser.add_argument("--naive-batch", type=int, default=0,
                        help="examples per naive step (0: 8 CPU, 16 CUDA as in the reference)")
    recipe = TrainingSpec()
    parser.add_argument("--effective-batch", type=int, default=recipe.effective_batch_size)
    parser.add_argument("--pack-tokens", type=int, default=recipe.pack_tokens, help="packed row length")
    parser.add_argument("--long-rows", type=int, default=4096, help="row length of the *_4k variants")
    parser.add_argument("--variants", default="", help="comma-separated names (default: all)")
    parser.add_argument("--checkpoint", default="", help="a model folder for the int8 variant")
    parser.add_argument("--profile", action="store_true",
                        help="after the default variant, device time per kernel class of one step")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (0: 1 on CPU, where OpenMP threads stall whenever "
                             "another process takes a core and the figures swing 2-3x; torch's default "
                             "on CUDA)")
    parser.add_argument("--json", default="", help="also write the results here")
    return parser.parse_args()


def selected(names: str) -> list[Variant]:
    if not names:
        return list(VARIANTS)
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    known = {v.name: v for v in VARIANTS}
    if unknown := [n for n in wanted if n not in known]:
        raise SystemExit(f"unknown variants {unknown}; known: {', '.join(known)}")
    return [v for v in VARIANTS if v.name in wanted]  # always in the safe order


def default_variant(device: str) -> str:
    """The variant that runs the train step's defaults (a 16-bit base) on this machine."""
    speed = choose_speed(device=device, kernels="auto", compile="auto",
                         liger_blocker=liger_blocker(device=device, model_type="llama"))
    return {("liger", "layers"): "+liger_compile", ("liger", "none"): "+liger",
            ("none", "layers"): "+compile"}.get((speed.kernels, speed.compile), "train_step")


def report(results: list[Result], device: str) -> dict[str, dict[str, float]]:
    mem_label = "peak GiB" if device == "cuda" else "peak RSS"
    print(f"\n{'variant':<17} {'ex/step':>7} {'useful tok/s':>12} {'MFU':>7} {'pad':>6} {mem_label:>8} "
          f"{'÷naive':>8} {'÷step':>8}   (tok/s: median over steps)")
    by_name = {r.variant: r.useful_tokens_per_s for r in results if not r.skipped}
    naive, step = by_name.get("naive_padded", 0.0), by_name.get("train_step", 0.0)
    default = default_variant(device)
    for r in results:
        print(r.row(naive, step, "*" if r.variant == default else ""))
    print(f"* the train step's defaults for a 16-bit base on this machine ({device}); the paper's "
          "recipe (the spec's default base_precision) is int8")
    return {r.variant: {"to_naive": round(r.useful_tokens_per_s / naive, 3) if naive else 0.0,
                        "to_train_step": round(r.useful_tokens_per_s / step, 3) if step else 0.0}
            for r in results if not r.skipped}


def main() -> None:
    a = parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    threads = a.threads or (1 if device == "cpu" else 0)
    if threads:
        torch.set_num_threads(threads)
    config = auto_config(a.config, device)
    steps = a.steps or (8 if device == "cuda" else 3)
    a.warm = a.warm or (2 if device == "cuda" else 1)
    naive_batch = a.naive_batch or (16 if device == "cuda" else 8)
    # The train step's own choice for a bf16 (CUDA) or fp32 (CPU) base with attention 'auto'.
    choice = choose_load(device=device, precision="bfloat16" if device == "cuda" else "float32",
                         attention="auto", has_bitsandbytes=False,
                         has_flash_attn=importlib.util.find_spec("flash_attn") is not None)
    b = Bench(device, config, a, choice.attention)
    peak, peak_how = peak_flops(device)
    print(f"device={device} threads={torch.get_num_threads()} config={config} "
          f"attention auto={b.attention} ({choice.attention_note}) "
          f"peak={peak / 1e12:.2f} TFLOP/s ({peak_how})", flush=True)
    print(f"naive: {naive_batch} examples/step; rows of {a.pack_tokens} tokens ({a.long_rows} for *_4k); "
          f"{steps} timed + {a.warm} warm-up steps each", flush=True)
    results = []
    for v in selected(a.variants):
        started = time.perf_counter()
        results.append(run_variant(v, b, naive_batch, steps, peak))
        print(json.dumps({**vars(results[-1]), "wall_s": round(time.perf_counter() - started, 1)}),
              flush=True)
    ratios = report(results, device)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"device": device, "config": config, "params": b.n_params, "attention": b.attention,
                       "peak_flops": peak, "peak_how": peak_how, "micro_batch": b.micro,
                       "micro_batch_how": b.micro_how,
                       "default_variant": default_variant(device),
                       "results": [vars(r) for r in results], "ratios": ratios}, fh, indent=1)


if __name__ == "__main__":
    main()
