"""Random-weight Llama-shaped models and a synthetic tokenizer, for the benches.

Speed does not depend on the weights, and a lent GPU machine reaches no model hub, so the
benches build their models here: Llama-2-7B's shape on CUDA, a tiny one on CPU. The tokenizer
is word-level over ``w<N>`` words (one word, one token), so a bench controls token counts exactly
and encode/decode round-trip. ``python bench/synthetic.py --config 7b --out DIR`` writes a
checkpoint (model + tokenizer) that ``from_pretrained`` loads, for the paths that load from disk
(the train step's 8-bit load, the evaluate step's engine).
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path
from typing import Any

CONFIGS: dict[str, dict[str, int]] = {
    # Llama-2-7B's shape.
    "7b": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
               num_key_value_heads=32, vocab_size=32000),
    # Small enough for two busy CPU cores, same architecture.
    "tiny": dict(hidden_size=256, intermediate_size=688, num_hidden_layers=4, num_attention_heads=4,
                 num_key_value_heads=4, vocab_size=8192),
}
# ids 0 to 4; words start at 5. transformers' stop-string matcher encodes "abcdef" to learn how
# tokens print (StopStringCriteria.clean_tokenizer_vocab), so it must be a known word; "###" is
# the benches' stop string (the matcher needs a token that spells it).
SPECIAL = ("<pad>", "<s>", "</s>", "abcdef", "###")
STOP = "###"


def auto_config(config: str, device: str) -> str:
    return config if config != "auto" else ("7b" if device == "cuda" else "tiny")


def word_tokenizer(vocab: int) -> Any:
    """A fast tokenizer whose tokens are the words ``w5`` … ``w<vocab-1>``, split on whitespace."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = {t: i for i, t in enumerate(SPECIAL)} | {f"w{i}": i for i in range(len(SPECIAL), vocab)}
    tok = Tokenizer(models.WordLevel(words, unk_token="<pad>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>",
                                   eos_token="</s>", unk_token="<pad>")


def words(n: int, rng: random.Random, vocab: int) -> str:
    """``n`` random words: exactly ``n`` tokens."""
    return " ".join(f"w{rng.randrange(len(SPECIAL), vocab)}" for _ in range(n))


def random_llama(config: str, *, device: str, dtype: Any, attention: str = "sdpa") -> Any:
    """A Llama-shaped causal LM with random weights, built on ``device`` (seconds for a 7B)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(**CONFIGS[config], max_position_embeddings=16384, attn_implementation=attention,
                      pad_token_id=0, bos_token_id=1, eos_token_id=2)
    with torch.device(device):
        return LlamaForCausalLM(cfg).to(dtype)


def write_checkpoint(config: str, out: Path, *, device: str) -> Path:
    """Save a random ``config`` model (bf16 on CUDA, fp32 on CPU) and the tokenizer to ``out``."""
    import torch

    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    random_llama(config, device=device, dtype=dtype).save_pretrained(out)
    word_tokenizer(CONFIGS[config]["vocab_size"]).save_pretrained(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", choices=["auto", *CONFIGS], default="auto")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    config = auto_config(args.config, device)
    if (args.out / "config.json").exists():
        print(f"checkpoint {args.out} exists; kept")
        return
    start = time.perf_counter()
    write_checkpoint(config, args.out, device=device)
    print(f"wrote a random {config} checkpoint to {args.out} in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
