"""train: a LoRA adapter on one instruction set (the paper's recipe by default).

transformers' Trainer runs the loop over padding-free packed micro-batches (attention isolated
per sequence); loss on response tokens only; held-out perplexity after every epoch and the best
epoch's adapter kept. A checkpoint (adapter, optimizer, scheduler, RNG, data position, epoch
records, best adapter) goes to the store every ``checkpoint_every_steps`` optimizer steps and at
every epoch end; a rerun of the same key continues from the newest complete one.

Inputs: ``data`` (Alpaca JSONL; a multilingual mixture is the same file format).
Outputs: ``adapter/`` (PEFT adapter of the best epoch), ``metrics.json`` (loss curve, per-epoch
held-out perplexity, chosen epoch, when and why training stopped, tokens seen, truncations, wall
time, tokens/s, how the base was loaded and why, kernels and compilation and why, batching,
library versions). While running:
``checkpoints/step-N/`` (deleted once the outputs are written).
"""

from __future__ import annotations

import math
import platform
import shutil
import time
from importlib import metadata
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from nativejobs.errors import StepInputError
from nativejobs.steps._context import StepContext
from nativejobs.training.checkpoints import CheckpointStore
from nativejobs.training.data import EncodedSet, encode_rows, split_heldout
from nativejobs.training.progress import Progress
from nativejobs.versions import STEP_VERSIONS

KIND = "train"
VERSION = STEP_VERSIONS[KIND]  # kept in nativejobs/versions.py, which the planner reads


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Lora(_Params):
    r: int
    alpha: int
    dropout: float
    target_modules: list[str]


class Training(_Params):
    """Mirrors ``spec.TrainingSpec`` (see there for what each knob trades)."""

    epochs: int
    patience: int | None
    effective_batch_size: int
    micro_batch_size: int | None
    max_length: int
    template: Literal["alpaca", "chat"]
    heldout_fraction: float
    lora: Lora
    base_precision: Literal["int8", "bfloat16", "float32"]
    lr_scheduler: Literal["linear", "constant", "cosine"]
    warmup_steps: int
    weight_decay: float
    max_grad_norm: float
    packing: bool
    pack_tokens: int
    attention: Literal["auto", "sdpa", "eager", "flex_attention", "flash_attention_2"]
    gradient_checkpointing: bool
    # Absent from the plan's dump when 'auto' (spec.TrainingSpec leaves them out of the key).
    kernels: Literal["auto", "liger", "none"] = "auto"
    compile: Literal["auto", "layers", "none"] = "auto"
    checkpoint_every_steps: int
    seed: int


class Model(_Params):
    id: str
    revision: str | None = None


class Params(_Params):
    model: Model
    training: Training
    lr: float
    mode: Literal["mono", "multi"]
    language: str


def _problems(p: Params) -> list[str]:
    t = p.training
    problems = []
    if t.micro_batch_size and t.effective_batch_size % t.micro_batch_size:
        problems.append(f"training.micro_batch_size {t.micro_batch_size} must divide "
                        f"effective_batch_size {t.effective_batch_size}")
    if p.lr <= 0 or not math.isfinite(p.lr):
        problems.append(f"lr: got {p.lr}; must be a positive number")
    return problems


class TrainStep:
    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        self.p = Params.model_validate(ctx.params)
        if problems := _problems(self.p):
            raise StepInputError("; ".join(problems))
        self.checkpoints = CheckpointStore(ctx.store, ctx.out("checkpoints"))
        self.trainer_dir = ctx.workdir / "trainer"
        self.best_dir = ctx.workdir / "best"
        self.resume_from: int | None = None
        self.optimizer_steps = 0  # set by run()
        self.progress = Progress()  # replaced by the checkpoint's on resume
        self.started = time.monotonic()

    # -- setup ----------------------------------------------------------------------------
    def setup(self) -> None:
        self._setup_resume()
        self._setup_tokenizer()
        self._setup_data()
        self._setup_model()
        self._setup_batching()
        self._setup_trainer()

    def _setup_resume(self) -> None:
        """Find the newest complete checkpoint, drop torn ones, bring it and its state here."""
        from nativejobs.training.recipe import BEST, PROGRESS

        self.resume_from = self.checkpoints.latest()
        self.checkpoints.prune(keep=self.resume_from)
        if self.resume_from is None:
            return
        local = self.checkpoints.download(self.resume_from,
                                          self.trainer_dir / f"checkpoint-{self.resume_from}")
        self.progress = Progress.from_json((local / PROGRESS).read_text())
        self.progress.resumed_from.append(self.resume_from)
        if (local / BEST).is_dir():
            shutil.copytree(local / BEST, self.best_dir)
        self.ctx.log.info("resuming from the checkpoint at optimizer step %d", self.resume_from)

    def _setup_tokenizer(self) -> None:
        from transformers import AutoTokenizer

        from nativejobs.engines.models import resolve_model

        self.model_path = resolve_model(self.p.model.id)
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_path, revision=self.p.model.revision)
        if self.p.training.template == "chat" and not self.tokenizer.chat_template:
            raise StepInputError(f"training.template is 'chat' but model {self.p.model.id} has no chat "
                                 "template; use template: alpaca")
        self.pad_id = next(i for i in (self.tokenizer.pad_token_id, self.tokenizer.eos_token_id, 0)
                           if i is not None)

    def _setup_data(self) -> None:
        path = self.ctx.input_path("data")
        rows = self.ctx.store.get_jsonl(path)
        bad = [i for i, r in enumerate(rows)
               if not isinstance(r.get("instruction"), str) or not isinstance(r.get("output"), str)]
        if not rows or bad:
            raise StepInputError(f"training data {path}: " + (
                f"rows {bad[:5]} lack string 'instruction'/'output'" if bad else "no rows"))
        t = self.p.training
        train, held = split_heldout(rows, t.heldout_fraction, t.seed)
        self.rows = (len(train), len(held))
        self.train_set = encode_rows(self.tokenizer, train, template=t.template, max_length=t.max_length)
        self.heldout_set = encode_rows(self.tokenizer, held, template=t.template, max_length=t.max_length)
        if not self.train_set.examples:
            raise StepInputError(f"training data {path}: no row has a response within max_length "
                                 f"{t.max_length}; raise training.max_length")
        if t.patience and not self.heldout_set.examples:  # patience would never fire
            raise StepInputError(f"training data {path}: training.patience {t.patience} needs held-out "
                                 f"examples and {len(rows)} rows at heldout_fraction "
                                 f"{t.heldout_fraction} leave none within max_length {t.max_length}")

    def _setup_model(self) -> None:
        import torch

        from nativejobs.training.model import add_lora, load_base
        from nativejobs.training.speed import apply_kernels, compile_layers

        t = self.p.training
        self._choose_speed(t.base_precision)  # an explicit option that cannot run fails before the load
        base, self.base_load = load_base(self.model_path, revision=self.p.model.revision,
                                         precision=t.base_precision, attention=t.attention,
                                         gradient_checkpointing=t.gradient_checkpointing)
        self._choose_speed(self.base_load.precision)  # 'auto' follows the precision actually loaded
        apply_kernels(base, self.speed)
        torch.manual_seed(t.seed)  # LoRA's initial A; a resume loads the checkpoint's instead
        self.model = add_lora(base, r=t.lora.r, alpha=t.lora.alpha, dropout=t.lora.dropout,
                              target_modules=t.lora.target_modules,
                              gradient_checkpointing=t.gradient_checkpointing)
        self.compiled_layers = compile_layers(self.model, self.speed)

    def _choose_speed(self, precision: str) -> None:
        import torch
        from transformers import AutoConfig

        from nativejobs.training.speed import choose_speed, liger_blocker

        t = self.p.training
        device = "cuda" if torch.cuda.is_available() else "cpu"
        model_type = AutoConfig.from_pretrained(self.model_path, revision=self.p.model.revision).model_type
        self.speed = choose_speed(device=device, kernels=t.kernels, compile=t.compile, precision=precision,
                                  liger_blocker=liger_blocker(device=device, model_type=model_type))

    def _setup_batching(self) -> None:
        from nativejobs.training.packing import PackedCollator, PaddedCollator
        from nativejobs.training.recipe import choose_micro_batch

        t = self.p.training
        varlen = self.base_load.attention.startswith("flash_attention")
        self.row_tokens = None if varlen else max(t.pack_tokens, t.max_length)
        self.collate = (PackedCollator(self.row_tokens, self.pad_id) if t.packing
                        else PaddedCollator(self.pad_id))
        if t.micro_batch_size:
            self.micro_batch, self.micro_batch_how = t.micro_batch_size, "spec"
        else:
            self.micro_batch, self.micro_batch_how = choose_micro_batch(
                self.model, self.train_set.examples, self.collate, effective=t.effective_batch_size,
                device=self.base_load.device, bf16=self.is_bf16)
        self.accumulation = t.effective_batch_size // self.micro_batch
        self.ctx.log.info("micro-batch %d × accumulation %d (%s); base %s, attention %s, kernels %s, "
                          "compile %s", self.micro_batch, self.accumulation, self.micro_batch_how,
                          self.base_load.precision, self.base_load.attention, self.speed.kernels,
                          self.speed.compile)

    def _setup_trainer(self) -> None:
        from nativejobs.training.recipe import RecipeCallback, RecipeTrainer, training_arguments

        t = self.p.training
        args = training_arguments(
            output_dir=self.trainer_dir, micro_batch=self.micro_batch, accumulation=self.accumulation,
            epochs=t.epochs, lr=self.p.lr, scheduler=t.lr_scheduler, warmup_steps=t.warmup_steps,
            weight_decay=t.weight_decay, max_grad_norm=t.max_grad_norm, seed=t.seed,
            bf16=self.is_bf16, cuda=self.base_load.device == "cuda")
        self.callback = RecipeCallback(self.progress, best_dir=self.best_dir,
                                       checkpoints=self.checkpoints,
                                       every_steps=t.checkpoint_every_steps, patience=t.patience,
                                       log=self.ctx.log)
        self.trainer = RecipeTrainer(model=self.model, args=args, data_collator=self.collate,
                                     train_dataset=self.train_set.examples,
                                     eval_dataset=self.heldout_set.examples,
                                     eval_collate=self.collate, callbacks=[self.callback])

    @property
    def is_bf16(self) -> bool:
        """Whether training runs under bf16 autocast (a 16-bit or 8-bit base on CUDA)."""
        return self.base_load.device == "cuda" and self.base_load.precision != "float32"

    # -- run ------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        if self.progress.stopped_early:  # checkpointed after its early stop: finished, not paused
            self.optimizer_steps = self.resume_from or 0
        else:
            resume = self.trainer_dir / f"checkpoint-{self.resume_from}" if self.resume_from else None
            self.trainer.train(resume_from_checkpoint=str(resume) if resume else None)
            self.optimizer_steps = self.trainer.state.global_step
        if not self.best_dir.is_dir():
            raise RuntimeError(f"training ended without a best adapter in {self.best_dir}")
        self.ctx.store.upload_dir(self.best_dir, self.ctx.out("adapter"))
        metrics = self._metrics()
        self.ctx.store.put_json(self.ctx.out("metrics.json"), metrics)
        self.checkpoints.prune(keep=None)  # outputs are written; the marker follows
        return {k: metrics[k] for k in ("chosen_epoch", "best_heldout_perplexity", "stop", "tokens_seen",
                                        "truncated", "train_s", "resumed_from")}

    def _metrics(self) -> dict[str, Any]:
        from nativejobs.training.model import peak_memory_gib

        prog, t = self.progress, self.p.training
        train_s = max(self.callback.elapsed_s(), prog.train_s)
        peak_gib, peak_kind = peak_memory_gib(self.base_load.device)
        epochs_run = len(prog.epochs)
        tokens = epochs_run * self.train_set.tokens
        return {
            "recipe": self.p.model_dump(mode="json"),
            "base": self.base_load.as_record(),
            "speed": {**self.speed.as_record(), "compiled_layers": self.compiled_layers},
            "batching": self._batching_record(),
            "data": {"train_rows": self.rows[0], "heldout_rows": self.rows[1],
                     **_set_record("train", self.train_set), **_set_record("heldout", self.heldout_set),
                     "max_length": t.max_length},
            "epochs": [vars(e) for e in prog.epochs], "loss_curve": [vars(s) for s in prog.losses],
            "chosen_epoch": prog.best_epoch, "best_heldout_perplexity": prog.best_perplexity,
            "stopped_early": prog.stopped_early,
            "stop": _stop_record(prog, patience=t.patience, epochs=t.epochs),
            "epochs_run": epochs_run, "optimizer_steps": self.optimizer_steps,
            "tokens_seen": tokens, "scored_tokens_seen": epochs_run * self.train_set.scored_tokens,
            "truncated": self.train_set.truncated + self.heldout_set.truncated,
            "dropped": self.train_set.dropped + self.heldout_set.dropped,
            "train_s": round(train_s, 3), "wall_s": round(time.monotonic() - self.started, 3),
            "tokens_per_s": round(tokens / max(train_s, 1e-9), 2),
            "resumed_from": prog.resumed_from, "peak_memory_gib": peak_gib, "peak_memory_kind": peak_kind,
            "versions": _versions(),
        }

    def _batching_record(self) -> dict[str, Any]:
        return {"packing": self.p.training.packing, "row_tokens": self.row_tokens,
                "effective_batch_size": self.p.training.effective_batch_size,
                "micro_batch_size": self.micro_batch, "micro_batch_chosen_by": self.micro_batch_how,
                "gradient_accumulation": self.accumulation}

    def cleanup(self) -> None:
        self.trainer = None  # type: ignore[assignment]
        self.model = None


def _stop_record(prog: Progress, *, patience: int | None, epochs: int) -> dict[str, Any]:
    """Why training ended and after which epoch: ``{epoch, reason, message}``; reason is
    'patience' (early stop) or 'max_epochs'."""
    last = prog.epochs[-1].epoch if prog.epochs else None
    if prog.stopped_early:
        return {"epoch": last, "reason": "patience",
                "message": f"held-out perplexity not better than epoch {prog.best_epoch}'s for "
                           f"{prog.stale_epochs} epochs (patience {patience})"}
    return {"epoch": last, "reason": "max_epochs", "message": f"all {epochs} epochs run"}


def _set_record(name: str, s: EncodedSet) -> dict[str, int]:
    return {f"{name}_examples": len(s.examples), f"{name}_tokens": s.tokens,
            f"{name}_scored_tokens": s.scored_tokens, f"{name}_truncated": s.truncated,
            f"{name}_dropped": s.dropped}


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("torch", "transformers", "peft", "accelerate", "bitsandbytes", "flash-attn", "liger-kernel",
                 "triton"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


STEP = TrainStep
