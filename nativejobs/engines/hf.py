"""The transformers engine: batched greedy generation and log-likelihood scoring, CPU or GPU."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from nativejobs.engines.models import resolve_model

__all__ = ["TransformersEngine"]

log = logging.getLogger(__name__)


def _cut(text: str, stop: tuple[str, ...]) -> str:
    ends = [i for s in stop if s and (i := text.find(s)) >= 0]
    return text[: min(ends)] if ends else text


class TransformersEngine:
    """One model (plus an optional PEFT adapter) loaded once and reused for every request."""

    def __init__(self, model_id: str, *, revision: str | None = None, adapter: Path | None = None,
                 batch_size: int = 8) -> None:
        path = resolve_model(model_id)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
        self.tokenizer = AutoTokenizer.from_pretrained(path, revision=revision)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(path, revision=revision, dtype=dtype)
        if adapter is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, str(adapter))
        self.model = model.to(self.device).eval()
        self.batch_size = batch_size

    def chat_prompt(self, message: str) -> str:
        if not self.tokenizer.chat_template:
            return message
        return self.tokenizer.apply_chat_template([{"role": "user", "content": message}],
                                                  tokenize=False, add_generation_prompt=True)

    def _batches(self, n: int, lengths: list[int]) -> list[list[int]]:
        # Longest first: similar lengths share a batch, so little padding is computed.
        order = sorted(range(n), key=lambda i: -lengths[i])
        return [order[i : i + self.batch_size] for i in range(0, n, self.batch_size)]

    @torch.inference_mode()
    def generate(self, prompts: list[str], *, max_new_tokens: int,
                 stop: tuple[str, ...] = ()) -> list[str]:
        tok = self.tokenizer
        tok.padding_side = "left"
        lengths = [len(tok(p).input_ids) for p in prompts]
        out: list[str] = [""] * len(prompts)
        for batch in self._batches(len(prompts), lengths):
            enc = tok([prompts[i] for i in batch], return_tensors="pt", padding=True,
                      add_special_tokens=False).to(self.device)
            gen = self.model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                      pad_token_id=tok.pad_token_id,
                                      stop_strings=list(stop) or None, tokenizer=tok)
            texts = tok.batch_decode(gen[:, enc.input_ids.shape[1] :], skip_special_tokens=True)
            for i, text in zip(batch, texts, strict=True):
                out[i] = _cut(text, stop)
        return out

    @torch.inference_mode()
    def loglikelihood(self, pairs: list[tuple[str, str]]) -> list[float]:
        tok = self.tokenizer
        # As lm-eval: encode context and continuation apart, so the continuation's tokens are exact.
        encoded = [(tok(c, add_special_tokens=False).input_ids,
                    tok(x, add_special_tokens=False).input_ids) for c, x in pairs]
        lengths = [len(c) + len(x) for c, x in encoded]
        out = [0.0] * len(pairs)
        for batch in self._batches(len(pairs), lengths):
            width = max(lengths[i] for i in batch)
            ids = torch.full((len(batch), width), tok.pad_token_id, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for row, i in enumerate(batch):
                seq = encoded[i][0] + encoded[i][1]
                ids[row, : len(seq)] = torch.tensor(seq)
                mask[row, : len(seq)] = 1
            logits = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device)).logits
            logprobs = torch.log_softmax(logits.float(), dim=-1).cpu()
            for row, i in enumerate(batch):
                ctx, cont = encoded[i]
                pos = torch.arange(len(ctx) - 1, len(ctx) + len(cont) - 1)
                out[i] = float(logprobs[row, pos, torch.tensor(cont)].sum())
        return out
