"""Evaluate-step throughput: the transformers engine against lm-eval's plain HF model (HFLM).

The evaluate step loads its model once (``TransformersEngine``) and answers generation items
(XQuAD, MGSM, open QA) with its own length-sorted batches, and log-likelihood items either
itself or through lm-eval's ``HFLM`` wrapped around the same weights (``harness_lm()``). This
bench gives both the same items, on the same loaded model, and prints for each task and each
side: items/s, tokens/s and the ratio, plus whether they agree (identical greedy texts; the
largest log-likelihood difference), so a speed-up that changed answers would show.

Items (random words from a word-level tokenizer: one word, one token, so lengths are exact):
- generation: prompts of XQuAD-like length (lognormal, median --gen-prompt tokens), greedy,
  --new-tokens new tokens each (the stop string is one rare token: items generate all of them);
- log-likelihood: MMLU-like 5-shot contexts (median --ll-context tokens) with four one-token
  choices, plus a quarter of items with a multi-token continuation (as cloze tasks have).

On CPU a tiny random Llama (seconds); on CUDA Llama-2-7B's shape in bf16 (random weights; pass
--checkpoint from ``bench/synthetic.py`` to reuse one). vLLM cannot run on the lent GPU machines
here (no registry there, and its wheel is far larger than what can travel); its engine is
covered by tests of its errors (``tests/unit``), not measured here.

    python bench/eval_throughput.py                       # auto: tiny on CPU, 7b on CUDA
    python bench/eval_throughput.py --checkpoint /tmp/nj-7b --items 128 --json out.json
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import CONFIGS, STOP, auto_config, words, write_checkpoint


@dataclass
class Side:
    """One side's figures on one task."""

    seconds: float
    items: int
    tokens: int  # generation: new tokens; log-likelihood: context + continuation tokens

    def row(self, name: str, task: str) -> str:
        return (f"  {task:<15} {name:<12} {self.seconds:>8.2f} s {self.items / self.seconds:>9.2f} items/s "
                f"{self.tokens / self.seconds:>11,.0f} tok/s")


def lognormal_lengths(n: int, median: int, rng: random.Random, *, cap: int) -> list[int]:
    return [max(8, min(cap, int(rng.lognormvariate(math.log(median), 0.5)))) for _ in range(n)]


def gen_items(n: int, median: int, vocab: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [words(k, rng, vocab) for k in lognormal_lengths(n, median, rng, cap=4 * median)]


def ll_items(n: int, median: int, vocab: int, seed: int) -> list[tuple[str, str]]:
    """(context, continuation) pairs: n questions × 4 one-token choices, plus n/4 cloze items."""
    rng = random.Random(seed)
    pairs: list[tuple[str, str]] = []
    for k in lognormal_lengths(n, median, rng, cap=4 * median):
        context = words(k, rng, vocab)
        pairs += [(context, " " + words(1, rng, vocab)) for _ in range(4)]
    for k in lognormal_lengths(max(1, n // 4), median, rng, cap=4 * median):
        pairs.append((words(k, rng, vocab), " " + words(rng.randint(2, 12), rng, vocab)))
    return pairs


def timed(fn: Callable[[], Any], device: str) -> tuple[Any, float]:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = fn()
    if device == "cuda":
        torch.cuda.synchronize()
    return out, time.perf_counter() - start


def harness_side(engine: Any) -> tuple[Any, str]:
    """lm-eval's HFLM around the engine's weights, or why it cannot be made here."""
    try:
        return engine.harness_lm(), ""
    except Exception as e:  # lm-eval or one of its dependencies missing (a lent GPU machine)
        return None, f"lm-eval's HFLM is not usable here ({type(e).__name__}: {str(e)[:160]})"


def _instances(kind: str, arguments: list[tuple[Any, ...]]) -> list[Any]:
    from lm_eval.api.instance import Instance

    return [Instance(request_type=kind, doc={}, arguments=args, idx=0, metadata=("bench", i, 1))
            for i, args in enumerate(arguments)]


def bench_generation(engine: Any, hflm: Any, prompts: list[str], new_tokens: int,
                     device: str) -> dict[str, Any]:
    ours, t_ours = timed(lambda: engine.generate(prompts, max_new_tokens=new_tokens, stop=(STOP,)), device)
    count = sum(len(engine.tokenizer(t, add_special_tokens=False).input_ids) for t in ours)
    out: dict[str, Any] = {"engine": Side(t_ours, len(prompts), count)}
    if hflm is not None:
        reqs = _instances("generate_until", [(p, {"until": [STOP], "max_gen_toks": new_tokens,
                                                  "do_sample": False}) for p in prompts])
        theirs, t_theirs = timed(lambda: hflm.generate_until(reqs, disable_tqdm=True), device)
        count = sum(len(engine.tokenizer(t, add_special_tokens=False).input_ids) for t in theirs)
        out["hflm"] = Side(t_theirs, len(prompts), count)
        out["identical_texts"] = round(sum(a.strip() == b.strip() for a, b in zip(ours, theirs, strict=True))
                                       / len(prompts), 3)
    return out


def bench_loglikelihood(engine: Any, hflm: Any, pairs: list[tuple[str, str]], device: str) -> dict[str, Any]:
    tok = engine.tokenizer
    tokens = sum(len(tok(c + x, add_special_tokens=False).input_ids) for c, x in pairs)
    ours, t_ours = timed(lambda: engine.loglikelihood(pairs), device)
    out: dict[str, Any] = {"engine": Side(t_ours, len(pairs), tokens)}
    if hflm is not None:
        theirs, t_theirs = timed(lambda: hflm.loglikelihood(_instances("loglikelihood", pairs),
                                                            disable_tqdm=True), device)
        out["hflm"] = Side(t_theirs, len(pairs), tokens)
        out["max_abs_diff"] = round(max(abs(a - b[0]) for a, b in zip(ours, theirs, strict=True)), 4)
    return out


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", choices=["auto", *CONFIGS], default="auto")
    ap.add_argument("--checkpoint", type=Path,
                    help="model folder (bench/synthetic.py); else a temporary one")
    ap.add_argument("--items", type=int, default=0,
                    help="generation prompts and MC questions (0: 32 CPU, 128 CUDA)")
    ap.add_argument("--gen-prompt", type=int, default=0, help="median prompt tokens (0: 48 CPU, 220 CUDA)")
    ap.add_argument("--new-tokens", type=int, default=0,
                    help="tokens generated per prompt (0: 16 CPU, 32 CUDA)")
    ap.add_argument("--ll-context", type=int, default=0, help="median MC context tokens (0: 96 CPU, 600 GPU)")
    ap.add_argument("--batch-size", type=int, default=8, help="both sides (the evaluate step's default: 8)")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (ignored on GPU)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    return ap.parse_args()


def _print(task: str, figures: dict[str, Any]) -> None:
    for name in ("engine", "hflm"):
        if name in figures:
            print(figures[name].row(name, task))
    if "hflm" in figures:
        ratio = (figures["engine"].tokens / figures["engine"].seconds) / (
            figures["hflm"].tokens / figures["hflm"].seconds)
        figures["engine_to_hflm"] = round(ratio, 3)
        agree = {k: figures[k] for k in ("identical_texts", "max_abs_diff") if k in figures}
        print(f"  {task:<15} engine ÷ hflm {ratio:.2f}× (tokens/s); agreement {agree}")


def main() -> None:
    args = parse_args()
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        torch.set_num_threads(args.threads)
    config = auto_config(args.config, device)
    gpu = device == "cuda"
    items = args.items or (128 if gpu else 32)
    vocab = CONFIGS[config]["vocab_size"]
    prompts = gen_items(items, args.gen_prompt or (220 if gpu else 48), vocab, seed=1)
    pairs = ll_items(items, args.ll_context or (600 if gpu else 96), vocab, seed=2)
    new_tokens = args.new_tokens or (32 if gpu else 16)
    from nativejobs.engines.hf import TransformersEngine

    with tempfile.TemporaryDirectory(prefix="eval-bench-") as tmp:
        path = args.checkpoint or write_checkpoint(config, Path(tmp) / config, device=device)
        (engine, load_s) = timed(lambda: TransformersEngine(str(path), batch_size=args.batch_size), device)
    hflm, why = harness_side(engine)
    where = torch.cuda.get_device_name(0) if gpu else f"CPU x{args.threads}"
    print(f"{config} ({sum(p.numel() for p in engine.model.parameters()) / 1e9:.2f} B params) on {where}, "
          f"batch {args.batch_size}, loaded once in {load_s:.1f} s; {len(prompts)} prompts × {new_tokens} "
          f"new tokens; {len(pairs)} log-likelihood requests")
    if why:
        print(f"  {why}; only the engine's figures")
    figures = {"generate": bench_generation(engine, hflm, prompts, new_tokens, device),
               "loglikelihood": bench_loglikelihood(engine, hflm, pairs, device)}
    for task, f in figures.items():
        _print(task, f)
    if gpu:
        print(f"  peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")
    if args.json:
        doc = {"config": config, "device": where, "batch_size": args.batch_size, "load_s": round(load_s, 2),
               "hflm": why or "ok",
               **{task: {k: (vars(v) if isinstance(v, Side) else v) for k, v in f.items()}
                  for task, f in figures.items()}}
        args.json.write_text(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
