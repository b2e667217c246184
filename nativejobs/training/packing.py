"""Padding-free packed batches with attention isolation between the packed sequences.

A micro-batch's sequences are packed into as few rows as fit ``row_tokens`` (first-fit
decreasing). Position ids restart at 0 for every sequence, and no attention mask is passed:
transformers then finds the sequence boundaries from the position ids and isolates them (a
block-diagonal causal mask for SDPA/eager/flex attention, varlen kernels for flash attention).
``tests/unit/training/test_packing_isolation.py`` proves the isolation on CPU.

Rows are only padded to the longest row of the batch; the padding is a segment of its own
(positions restart, labels -100), so it neither sees nor is seen by a real sequence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from nativejobs.training.data import IGNORE, Example

if TYPE_CHECKING:
    import torch

__all__ = ["PackedCollator", "PaddedCollator", "pack_rows"]


def pack_rows(lengths: list[int], capacity: int | None) -> list[list[int]]:
    """Indices of ``lengths`` grouped into rows of at most ``capacity`` tokens (None = one row).

    First-fit decreasing finds how many rows are needed; the sequences are then spread over that
    many rows longest-first onto the shortest row, which evens the rows out (less padding), unless
    that overflows a row. A sequence longer than ``capacity`` gets a row of its own.
    """
    if capacity is None:
        return [list(range(len(lengths)))] if lengths else []
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    rows: list[list[int]] = []
    free: list[int] = []
    for i in order:
        slot = next((r for r, room in enumerate(free) if room >= lengths[i]), None)
        if slot is None:
            rows.append([i])
            free.append(capacity - lengths[i])
        else:
            rows[slot].append(i)
            free[slot] -= lengths[i]
    even: list[list[int]] = [[] for _ in rows]
    load = [0] * len(rows)
    for i in order:
        r = min(range(len(rows)), key=lambda r: (load[r], r))
        even[r].append(i)
        load[r] += lengths[i]
    fits = all(n <= capacity or len(row) == 1 for n, row in zip(load, even, strict=True))
    return even if fits else rows


@dataclass(frozen=True)
class PackedCollator:
    """Collate examples into packed rows: ``input_ids``, ``labels``, ``position_ids`` [rows, T]."""

    row_tokens: int | None  # None: one row per batch (varlen kernels: no quadratic mask to fear)
    pad_id: int

    def __call__(self, features: list[Example]) -> dict[str, torch.Tensor]:
        import torch

        rows = pack_rows([len(f["input_ids"]) for f in features], self.row_tokens)
        ids: list[list[int]] = []
        labels: list[list[int]] = []
        positions: list[list[int]] = []
        for row in rows:
            ids.append([t for i in row for t in features[i]["input_ids"]])
            # The first label of each sequence would be "predicted" by the previous sequence.
            labels.append([t for i in row for t in [IGNORE, *features[i]["labels"][1:]]])
            positions.append([p for i in row for p in range(len(features[i]["input_ids"]))])
        width = max(len(r) for r in ids)
        for r in range(len(rows)):
            pad = width - len(ids[r])
            ids[r] += [self.pad_id] * pad
            labels[r] += [IGNORE] * pad
            positions[r] += list(range(pad))
        return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels),
                "position_ids": torch.tensor(positions)}


@dataclass(frozen=True)
class PaddedCollator:
    """The naive layout: one row per example, right-padded to the longest, with an attention mask."""

    pad_id: int

    def __call__(self, features: list[Example]) -> dict[str, torch.Tensor]:
        import torch

        width = max(len(f["input_ids"]) for f in features)
        rows = [(f, width - len(f["input_ids"])) for f in features]
        return {
            "input_ids": torch.tensor([f["input_ids"] + [self.pad_id] * p for f, p in rows]),
            "labels": torch.tensor([f["labels"] + [IGNORE] * p for f, p in rows]),
            "attention_mask": torch.tensor([[1] * len(f["input_ids"]) + [0] * p for f, p in rows]),
        }
