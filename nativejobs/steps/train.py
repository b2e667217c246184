"""train: a LoRA adapter on one instruction set (the paper's recipe by default).

Loss on response tokens only; held-out perplexity after every epoch; the best epoch's adapter
is the one kept.

Inputs: ``data`` (Alpaca JSONL).
Outputs: ``adapter/`` (PEFT adapter), ``metrics.json`` (losses, per-epoch perplexity, chosen
epoch, tokens seen, truncations, wall time, versions).
"""

from __future__ import annotations

import math
import random
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from nativejobs.errors import StepInputError
from nativejobs.steps._context import StepContext

KIND = "train"
VERSION = 1

ALPACA = ("Below is an instruction that describes a task. Write a response that appropriately "
          "completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:\n")
ALPACA_INPUT = ("Below is an instruction that describes a task, paired with an input that provides "
                "further context. Write a response that appropriately completes the request.\n\n"
                "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n")


class Lora(BaseModel):
    model_config = ConfigDict(extra="forbid")
    r: int
    alpha: int
    dropout: float
    target_modules: list[str]


class Training(BaseModel):
    model_config = ConfigDict(extra="forbid")
    epochs: int
    effective_batch_size: int
    micro_batch_size: int
    max_length: int
    template: Literal["alpaca", "chat"]
    heldout_fraction: float
    lora: Lora
    seed: int


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    revision: str | None = None


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: Model
    training: Training
    lr: float
    mode: Literal["mono"]
    language: str


def alpaca_prompt(row: dict[str, str]) -> str:
    template = ALPACA_INPUT if row.get("input", "").strip() else ALPACA
    return template.format(instruction=row["instruction"], input=row.get("input", ""))


def split_heldout(rows: list[dict[str, str]], fraction: float,
                  seed: int) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(train, heldout): a seeded split; at least one held-out row when fraction > 0."""
    if fraction <= 0 or len(rows) < 2:
        return rows, []
    order = random.Random(seed).sample(range(len(rows)), len(rows))
    n_held = max(1, round(len(rows) * fraction))
    held = set(order[:n_held])
    return ([r for i, r in enumerate(rows) if i not in held],
            [r for i, r in enumerate(rows) if i in held])


class TrainStep:
    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        self.p = Params.model_validate(ctx.params)
        t = self.p.training
        if t.effective_batch_size % t.micro_batch_size:
            raise StepInputError(f"training.effective_batch_size {t.effective_batch_size} is not a "
                                 f"multiple of micro_batch_size {t.micro_batch_size}")
        self.accumulation = t.effective_batch_size // t.micro_batch_size
        self.truncated = 0

    def setup(self) -> None:
        import torch

        torch.manual_seed(self.p.training.seed)
        self._setup_model()
        rows = self.ctx.store.get_jsonl(self.ctx.input_path("data"))
        if not rows:
            raise StepInputError(f"training data {self.ctx.input_path('data')} is empty")
        train, held = split_heldout(rows, self.p.training.heldout_fraction, self.p.training.seed)
        self.train_set = [self._encode(r) for r in train]
        self.heldout_set = [self._encode(r) for r in held]

    def _setup_model(self) -> None:
        import torch
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from nativejobs.engines.models import resolve_model

        path = resolve_model(self.p.model.id)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.tokenizer = AutoTokenizer.from_pretrained(path, revision=self.p.model.revision)
        base = AutoModelForCausalLM.from_pretrained(
            path, revision=self.p.model.revision,
            dtype=torch.bfloat16 if self.device == "cuda" else torch.float32)
        lora = self.p.training.lora
        cfg = LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                         target_modules=lora.target_modules, task_type="CAUSAL_LM")
        self.model = get_peft_model(base, cfg).to(self.device)
        self.optimizer = torch.optim.AdamW(
            [p for p in self.model.parameters() if p.requires_grad], lr=self.p.lr)

    def _encode(self, row: dict[str, str]) -> tuple[list[int], list[int]]:
        """(input ids, labels) with the prompt masked out of the loss (-100)."""
        tok = self.tokenizer
        if self.p.training.template == "chat":
            prompt = tok.apply_chat_template([{"role": "user", "content": alpaca_prompt(row)}],
                                             tokenize=False, add_generation_prompt=True)
        else:
            prompt = alpaca_prompt(row)
        p_ids = tok(prompt, add_special_tokens=False).input_ids
        r_ids = [*tok(row["output"], add_special_tokens=False).input_ids, tok.eos_token_id]
        ids, labels = p_ids + r_ids, [-100] * len(p_ids) + r_ids
        if len(ids) > self.p.training.max_length:
            self.truncated += 1
            ids, labels = ids[: self.p.training.max_length], labels[: self.p.training.max_length]
        return ids, labels

    def _loss_sum(self, batch: list[tuple[list[int], list[int]]]) -> tuple[Any, int]:
        """Summed token NLL over the batch and the number of scored tokens."""
        import torch

        width = max(len(ids) for ids, _ in batch)
        pad = self.tokenizer.pad_token_id or 0
        ids = torch.tensor([i + [pad] * (width - len(i)) for i, _ in batch], device=self.device)
        labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in batch], device=self.device)
        mask = torch.tensor([[1] * len(i) + [0] * (width - len(i)) for i, _ in batch], device=self.device)
        logits = self.model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
        target = labels[:, 1:]
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)),
                                                 target.reshape(-1), ignore_index=-100, reduction="sum")
        return loss, int((target != -100).sum())

    def _epoch(self, epoch: int) -> tuple[list[float], int]:
        mb, rng = self.p.training.micro_batch_size, random.Random(self.p.training.seed + epoch)
        order = rng.sample(self.train_set, len(self.train_set))
        micro = [order[i : i + mb] for i in range(0, len(order), mb)]
        groups = [micro[i : i + self.accumulation] for i in range(0, len(micro), self.accumulation)]
        losses, tokens = [], 0
        self.model.train()
        for group in self.ctx.progress(groups, total=len(groups), what=f"epoch {epoch + 1} steps"):
            n_tok = sum(sum(t != -100 for t in lab[1:]) for b in group for _, lab in b)
            total = 0.0
            for batch in group:
                loss, _ = self._loss_sum(batch)
                (loss / max(n_tok, 1)).backward()
                total += float(loss)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            losses.append(total / max(n_tok, 1))
            tokens += sum(len(ids) for b in group for ids, _ in b)
        return losses, tokens

    def _perplexity(self) -> float | None:
        import torch

        if not self.heldout_set:
            return None
        self.model.eval()
        nll, count = 0.0, 0
        with torch.inference_mode():
            for i in range(0, len(self.heldout_set), self.p.training.micro_batch_size):
                loss, n = self._loss_sum(self.heldout_set[i : i + self.p.training.micro_batch_size])
                nll, count = nll + float(loss), count + n
        return math.exp(nll / max(count, 1))

    def run(self) -> dict[str, Any]:
        start, best_dir = time.time(), self.ctx.workdir / "best"
        epochs: list[dict[str, Any]] = []
        best: float | None = None
        tokens = 0
        for epoch in range(self.p.training.epochs):
            losses, seen = self._epoch(epoch)
            tokens += seen
            ppl = self._perplexity()
            epochs.append({"epoch": epoch + 1, "losses": losses, "heldout_perplexity": ppl})
            self.ctx.log.info("epoch %d: loss %.4f, held-out perplexity %s", epoch + 1,
                              losses[-1] if losses else float("nan"), ppl)
            if best is None or ppl is None or ppl < best:
                best = ppl
                self.model.save_pretrained(best_dir)
                chosen = epoch + 1
        self.ctx.store.upload_dir(best_dir, self.ctx.out("adapter"))
        metrics = self._metrics(epochs, chosen, tokens, time.time() - start)
        self.ctx.store.put_json(self.ctx.out("metrics.json"), metrics)
        return {k: metrics[k] for k in ("chosen_epoch", "tokens_seen", "truncated", "wall_s")}

    def _metrics(self, epochs: list[dict[str, Any]], chosen: int, tokens: int,
                 wall: float) -> dict[str, Any]:
        import peft
        import torch
        import transformers

        return {"recipe": self.p.model_dump(mode="json"), "epochs": epochs, "chosen_epoch": chosen,
                "train_rows": len(self.train_set), "heldout_rows": len(self.heldout_set),
                "gradient_accumulation": self.accumulation, "tokens_seen": tokens,
                "truncated": self.truncated, "wall_s": round(wall, 3),
                "tokens_per_s": round(tokens / max(wall, 1e-9), 2), "device": self.device,
                "precision": "bf16" if self.device == "cuda" else "fp32",
                "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                             "peft": peft.__version__}}

    def cleanup(self) -> None:
        self.model = None


STEP = TrainStep
