"""The transformers engine: batched greedy generation and log-likelihood scoring, CPU or GPU."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from nativejobs.engines._chat import ChatPrompts
from nativejobs.engines.models import resolve_model

__all__ = ["TransformersEngine"]

log = logging.getLogger(__name__)


def _cut(text: str, stop: tuple[str, ...]) -> str:
    ends = [i for s in stop if s and (i := text.find(s)) >= 0]
    return text[: min(ends)] if ends else text


class TransformersEngine(ChatPrompts):
    """One model (plus an optional PEFT adapter) loaded once and reused for every request."""

    name = "transformers"

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

            # Merged weights: the same function, without LoRA's extra matmuls on every token.
            model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
        self.model = model.to(self.device).eval()
        self.batch_size = batch_size

    def harness_lm(self) -> Any:
        """This model as an lm-evaluation-harness ``HFLM``: the same weights, no second load."""
        from lm_eval.models.huggingface import HFLM

        return HFLM(pretrained=self.model, tokenizer=self.tokenizer, batch_size=self.batch_size)

    def _batches(self, n: int, lengths: list[int]) -> list[list[int]]:
        # Longest first: similar lengths share a batch, so little padding is computed.
        order = sorted(range(n), key=lambda i: -lengths[i])
        return [order[i : i + self.batch_size] for i in range(0, n, self.batch_size)]

    @torch.inference_mode()
    def generate(self, prompts: list[str], *, max_new_tokens: int, stop: tuple[str, ...] = (),
                 temperature: float = 0.0, seed: int = 0) -> list[str]:
        tok = self.tokenizer
        sampling: dict[str, Any] = {"do_sample": temperature > 0}
        if temperature > 0:
            sampling["temperature"] = temperature
            torch.manual_seed(seed)
        tok.padding_side = "left"
        lengths = [len(tok(p).input_ids) for p in prompts]
        out: list[str] = [""] * len(prompts)
        for batch in self._batches(len(prompts), lengths):
            enc = tok([prompts[i] for i in batch], return_tensors="pt", padding=True,
                      add_special_tokens=False).to(self.device)
            gen = self.model.generate(**enc, max_new_tokens=max_new_tokens, **sampling,
                                      pad_token_id=tok.pad_token_id,
                                      stop_strings=list(stop) or None, tokenizer=tok)
            texts = tok.batch_decode(gen[:, enc.input_ids.shape[1] :], skip_special_tokens=True)
            for i, text in zip(batch, texts, strict=True):
                out[i] = _cut(text, stop)
        return out

    def _padded(self, seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-padded ids and attention mask for a batch of token sequences."""
        width = max(len(q) for q in seqs)
        ids = torch.full((len(seqs), width), self.tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, seq in enumerate(seqs):
            ids[row, : len(seq)] = torch.tensor(seq)
            mask[row, : len(seq)] = 1
        return ids.to(self.device), mask.to(self.device)

    def _token_logprobs(self, seqs: list[list[int]], positions: list[list[int]],
                        targets: list[list[int]]) -> list[list[float]]:
        """For each row, log p(targets[k] | seq[: positions[k] + 1]), computed in batches."""
        out: list[list[float]] = [[] for _ in seqs]
        for batch in self._batches(len(seqs), [len(q) for q in seqs]):
            ids, mask = self._padded([seqs[i] for i in batch])
            logits = self.model(input_ids=ids, attention_mask=mask).logits
            for row, i in enumerate(batch):
                picked = torch.log_softmax(logits[row, positions[i]].float(), dim=-1)
                out[i] = picked[torch.arange(len(targets[i])), targets[i]].tolist()
        return out

    @torch.inference_mode()
    def loglikelihood(self, pairs: list[tuple[str, str]]) -> list[float]:
        tok = self.tokenizer
        # As lm-eval: encode context and continuation apart, so the continuation's tokens are exact.
        encoded = [(tok(c, add_special_tokens=False).input_ids or [tok.eos_token_id],
                    tok(x, add_special_tokens=False).input_ids) for c, x in pairs]
        # Rows to run: single-token continuations of one context (multiple-choice letters) share
        # one forward pass over the context; any other pair gets a row of its own.
        rows: dict[tuple[int, ...], list[int]] = {}
        for i, (ctx, cont) in enumerate(encoded):
            rows.setdefault(tuple(ctx) if len(cont) == 1 else (-1 - i,), []).append(i)
        seqs, positions, targets = [], [], []
        for row_key, members in rows.items():
            ctx, cont = encoded[members[0]]
            if row_key[0] >= 0:  # shared context, one target token per member
                seqs.append(ctx)
                positions.append([len(ctx) - 1] * len(members))
                targets.append([encoded[i][1][0] for i in members])
            else:
                seqs.append(ctx + cont)
                positions.append(list(range(len(ctx) - 1, len(ctx) + len(cont) - 1)))
                targets.append(cont)
        out = [0.0] * len(pairs)
        for members, logprobs in zip(rows.values(), self._token_logprobs(seqs, positions, targets),
                                     strict=True):
            if len(members) == 1:  # its own row, or a shared context with one choice
                out[members[0]] = sum(logprobs)
            else:
                for i, lp in zip(members, logprobs, strict=True):
                    out[i] = lp
        return out
