"""The train step records its speed choices in metrics.json, and an explicit option that cannot
run here stops it as bad input (exit 3, never retried); a tiny saved Llama on CPU, seconds."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from nativejobs.errors import StepInputError
from nativejobs.spec import TrainingSpec
from nativejobs.steps._context import StepContext
from nativejobs.steps.train import TrainStep
from nativejobs.store import FileStore

torch = pytest.importorskip("torch")
VOCAB = 64


def _tiny_checkpoint(folder: Path) -> Path:
    """A 1-layer random Llama and a word-level tokenizer over w0 … w59 (plus 4 specials)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128,
                      pad_token_id=0, bos_token_id=1, eos_token_id=2)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3} | {f"w{i}": i + 4 for i in range(VOCAB - 4)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                            unk_token="<unk>").save_pretrained(folder)
    return folder


def _ctx(tmp_path: Path, **training: Any) -> StepContext:
    store = FileStore(tmp_path / "store")
    rows = [{"instruction": f"w{i} w{i + 1} w{i + 2}", "output": f"w{i + 3} w{i + 4}"} for i in range(8)]
    store.put_jsonl("steps/prepare/p/data.jsonl", rows)
    spec = TrainingSpec(epochs=1, effective_batch_size=4, heldout_fraction=0.25, max_length=64,
                        warmup_steps=0, base_precision="float32", **training)
    params = {"model": {"id": str(_tiny_checkpoint(tmp_path / "model"))}, "lr": 1e-3, "mode": "mono",
              "language": "es", "training": spec.model_dump(mode="json")}
    (tmp_path / "work").mkdir()
    return StepContext(store, "train", "k", params, {}, {"data": {"kind": "prepare", "key": "p",
                                                                   "artifact": "data.jsonl"}},
                       tmp_path / "work", logging.LoggerAdapter(logging.getLogger("test"), {}))


def test_the_metrics_record_what_auto_became_and_why(tmp_path: Path) -> None:
    step = TrainStep(_ctx(tmp_path))
    step.setup()
    step.run()

    speed = step.ctx.store.get_json("steps/train/k/metrics.json")["speed"]
    assert speed == {"kernels_requested": "auto", "kernels": "none",
                     "kernels_note": "auto: Liger's Triton kernels need CUDA",
                     "compile_requested": "auto", "compile": "none",
                     "compile_note": "auto: eager on CPU (compile time would exceed what it saves)",
                     "compiled_layers": 0}


def test_explicit_liger_on_cpu_is_bad_input_before_the_load(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Found before minutes of loading a 7B, not after."""
    import nativejobs.training.model

    def no_load(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the base was loaded")

    monkeypatch.setattr(nativejobs.training.model, "load_base", no_load)
    step = TrainStep(_ctx(tmp_path, kernels="liger"))

    with pytest.raises(StepInputError) as e:
        step.setup()

    assert str(e.value).startswith("training.kernels is 'liger' but Liger's Triton kernels need CUDA; "
                                   "use kernels: auto")
