"""The train step's resume state beyond the Trainer's own: loss curve, epochs, best epoch."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

__all__ = ["EpochRecord", "Progress", "StepLoss"]


@dataclass
class StepLoss:
    step: int
    epoch: float
    loss: float
    learning_rate: float | None
    grad_norm: float | None


@dataclass
class EpochRecord:
    epoch: int
    step: int  # optimizer steps done when the epoch ended
    train_loss: float | None  # mean of the epoch's step losses
    heldout_loss: float | None  # mean NLL per scored held-out token
    heldout_perplexity: float | None


@dataclass
class Progress:
    """Everything a checkpoint holds beyond the Trainer's own files (torchtune's named resume
    attributes, e.g. ``epochs_run``)."""

    epochs: list[EpochRecord] = field(default_factory=list)
    losses: list[StepLoss] = field(default_factory=list)
    best_epoch: int | None = None
    stale_epochs: int = 0  # epochs since the best one
    stopped_early: bool = False
    train_s: float = 0.0  # wall time spent training, summed over attempts (up to the checkpoint)
    resumed_from: list[int] = field(default_factory=list)  # optimizer steps of each resume

    @property
    def best_perplexity(self) -> float | None:
        rec = next((e for e in self.epochs if e.epoch == self.best_epoch), None)
        return rec.heldout_perplexity if rec else None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> Progress:
        doc = json.loads(text)
        return cls(epochs=[EpochRecord(**e) for e in doc["epochs"]],
                   losses=[StepLoss(**s) for s in doc["losses"]],
                   **{k: v for k, v in doc.items() if k not in ("epochs", "losses")})
