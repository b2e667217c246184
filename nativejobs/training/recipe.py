"""The training loop: transformers' Trainer with our packed batches, per-epoch held-out
perplexity, best-epoch adapter, and checkpoints to the store.

The Trainer owns the optimizer, scheduler, gradient accumulation (loss normalised over the
scored tokens of the whole effective batch), RNG state and the data position on resume. This
module adds what the recipe needs on top, through the Trainer's own extension points:

- ``RecipeTrainer.evaluate``: held-out perplexity (token-weighted) on packed batches;
- ``RecipeCallback``: the loss curve, epoch records, best-epoch adapter, early stop, and a
  checkpoint every N steps and at every epoch end, uploaded marker-last (``CheckpointStore``).

A checkpoint is taken after an epoch's evaluation, never between the epoch's last step and its
evaluation, so a resumed run never skips an epoch's perplexity.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import Trainer, TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from nativejobs.training.checkpoints import CheckpointStore
from nativejobs.training.data import IGNORE, Example
from nativejobs.training.progress import EpochRecord, Progress, StepLoss

__all__ = ["BEST", "PROGRESS", "RecipeCallback", "RecipeTrainer", "choose_micro_batch", "heldout_nll",
           "training_arguments"]

PROGRESS = "progress.json"  # our resume state inside a Trainer checkpoint folder
BEST = "best_adapter"  # the best epoch's adapter so far, inside a checkpoint folder


def heldout_nll(model: Any, examples: list[Example], collate: Callable[[list[Example]], Any], *,
                batch_size: int) -> tuple[float, int]:
    """(summed NLL, scored tokens) of ``examples`` under ``model``, in packed batches."""
    import torch

    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    device = next(p.device for p in model.parameters())
    with torch.no_grad():
        for i in range(0, len(examples), batch_size):
            batch = {k: v.to(device) for k, v in collate(examples[i : i + batch_size]).items()}
            n = int((batch["labels"][:, 1:] != IGNORE).sum())
            if n == 0:
                continue
            # The model's loss is summed over scored tokens and divided by num_items_in_batch.
            out = model(**batch, num_items_in_batch=torch.tensor(n, device=device))
            total, count = total + float(out.loss) * n, count + n
    model.train(was_training)
    return total, count


class RecipeTrainer(Trainer):
    """A Trainer whose evaluation is token-weighted held-out perplexity on packed batches."""

    def __init__(self, *args: Any, eval_collate: Callable[[list[Example]], Any], **kwargs: Any) -> None:
        from transformers.trainer_callback import PrinterCallback

        super().__init__(*args, **kwargs)
        self._eval_collate = eval_collate
        self.remove_callback(PrinterCallback)  # RecipeCallback logs through the step's logger

    def evaluate(self, eval_dataset: Any = None, ignore_keys: list[str] | None = None,
                 metric_key_prefix: str = "eval") -> dict[str, float]:
        examples = list(eval_dataset if eval_dataset is not None else self.eval_dataset or [])
        nll, count = heldout_nll(self.model, examples, self._eval_collate,
                                 batch_size=self.args.per_device_eval_batch_size)
        metrics = ({f"{metric_key_prefix}_loss": nll / count,
                    f"{metric_key_prefix}_perplexity": math.exp(nll / count)} if count else {})
        if metrics:
            self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics


class RecipeCallback(TrainerCallback):
    """Loss curve, epoch records, best-epoch adapter, early stop, checkpoints to the store."""

    def __init__(self, progress: Progress, *, best_dir: Path, checkpoints: CheckpointStore | None,
                 every_steps: int, patience: int | None, log: logging.LoggerAdapter) -> None:  # type: ignore[type-arg]
        self.progress = progress
        self.best_dir = best_dir
        self.checkpoints = checkpoints
        self.every_steps = every_steps
        self.patience = patience
        self.log = log
        self._steps_per_epoch = 1
        self._started = time.monotonic()
        self._base_train_s = progress.train_s

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                       **kwargs: Any) -> None:
        self._steps_per_epoch = max(1, state.max_steps // max(1, round(args.num_train_epochs)))
        self._started, self._base_train_s = time.monotonic(), self.progress.train_s

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
               logs: dict[str, float] | None = None, **kwargs: Any) -> None:
        if logs and "loss" in logs:
            self.progress.losses.append(StepLoss(state.global_step, round(state.epoch or 0.0, 4),
                                                 logs["loss"], logs.get("learning_rate"),
                                                 logs.get("grad_norm")))
            self.log.info("step %d/%d loss %.4f", state.global_step, state.max_steps, logs["loss"])

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                    **kwargs: Any) -> None:
        # An epoch's last step is checkpointed at epoch end, after its evaluation.
        if state.global_step % self.every_steps == 0 and state.global_step % self._steps_per_epoch:
            control.should_save = True

    def on_epoch_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                     **kwargs: Any) -> None:
        control.should_save = True

    def on_evaluate(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                    metrics: dict[str, float] | None = None, model: Any = None, **kwargs: Any) -> None:
        epoch, metrics = round(state.epoch or 0), metrics or {}
        done = {e.epoch for e in self.progress.epochs}
        if epoch in done:  # the Trainer evaluates once per epoch; never record one twice
            return
        start = max((e.step for e in self.progress.epochs), default=0)
        losses = [s.loss for s in self.progress.losses if start < s.step <= state.global_step]
        rec = EpochRecord(epoch, state.global_step, sum(losses) / len(losses) if losses else None,
                          metrics.get("eval_loss"), metrics.get("eval_perplexity"))
        self.progress.epochs.append(rec)
        best = self.progress.best_perplexity
        if rec.heldout_perplexity is None or best is None or rec.heldout_perplexity < best:
            self.progress.best_epoch, self.progress.stale_epochs = epoch, 0
            shutil.rmtree(self.best_dir, ignore_errors=True)
            model.save_pretrained(self.best_dir)
        else:
            self.progress.stale_epochs += 1
        if self.patience and self.progress.stale_epochs >= self.patience:
            self.progress.stopped_early = control.should_training_stop = True
        self.log.info("epoch %d: train loss %s, held-out perplexity %s (best: epoch %s)", epoch,
                      _fmt(rec.train_loss), _fmt(rec.heldout_perplexity), self.progress.best_epoch)

    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                **kwargs: Any) -> None:
        self.progress.train_s = self._base_train_s + time.monotonic() - self._started
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        (folder / PROGRESS).write_text(self.progress.to_json())
        if self.best_dir.exists():
            shutil.copytree(self.best_dir, folder / BEST, dirs_exist_ok=True)
        if self.checkpoints is not None:
            self.checkpoints.save(folder, state.global_step)
            self.log.info("checkpoint at step %d saved to the store", state.global_step)

    def elapsed_s(self) -> float:
        return self._base_train_s + time.monotonic() - self._started


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"


def training_arguments(*, output_dir: Path, micro_batch: int, accumulation: int, epochs: int,
                       lr: float, scheduler: str, warmup_steps: int, weight_decay: float,
                       max_grad_norm: float, seed: int, bf16: bool, cuda: bool,
                       shuffle: bool = True) -> TrainingArguments:
    """The Trainer's arguments: evaluation each epoch; saving is driven by ``RecipeCallback``."""
    return TrainingArguments(
        output_dir=str(output_dir), per_device_train_batch_size=micro_batch,
        per_device_eval_batch_size=micro_batch, gradient_accumulation_steps=accumulation,
        num_train_epochs=epochs, learning_rate=lr, lr_scheduler_type=scheduler,
        warmup_steps=warmup_steps, weight_decay=weight_decay, max_grad_norm=max_grad_norm,
        optim="adamw_torch", seed=seed, data_seed=seed, bf16=bf16,
        logging_strategy="steps", logging_steps=1, eval_strategy="epoch", save_strategy="no",
        # The filter reads every micro-batch's loss on the host (a GPU sync each time) only to
        # hide a NaN from the logged loss; a NaN should show. The weights are the same either way.
        logging_nan_inf_filter=False,
        save_total_limit=1, report_to="none", disable_tqdm=True, remove_unused_columns=False,
        dataloader_num_workers=0, dataloader_pin_memory=cuda,
        restore_callback_states_from_checkpoint=False,
        train_sampling_strategy="random" if shuffle else "sequential",
    )


def _divisors_desc(n: int, cap: int) -> list[int]:
    return [k for k in range(min(n, cap), 0, -1) if n % k == 0]


def choose_micro_batch(model: Any, examples: list[Example], collate: Callable[[list[Example]], Any],
                       *, effective: int, device: str, bf16: bool = True,
                       cpu_cap: int = 8) -> tuple[int, str]:
    """(examples per forward pass, how it was chosen): a divisor of ``effective``.

    On CUDA the largest divisor whose worst case (the longest examples) survives a forward and
    backward pass, in the precision training will use (``bf16``: under bf16 autocast, as the
    Trainer runs it); on CPU memory is rarely the limit, so the largest divisor up to ``cpu_cap``.
    """
    if device != "cuda":
        return _divisors_desc(effective, cpu_cap)[0], f"cpu: largest divisor of {effective} ≤ {cpu_cap}"
    import torch

    longest = sorted(examples, key=lambda e: -len(e["input_ids"]))
    for k in _divisors_desc(effective, effective):
        batch = {key: v.to(device) for key, v in collate(longest[:k]).items()}
        try:
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
                model(**batch).loss.backward()
            return k, f"cuda probe: {k} longest examples fit"
        except torch.OutOfMemoryError:
            continue
        finally:
            model.zero_grad(set_to_none=True)
            del batch
            torch.cuda.empty_cache()
    return 1, "cuda probe: nothing larger fits"
