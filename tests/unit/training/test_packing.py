"""Packing layout: every sequence once, rows within capacity, boundaries and padding unscored."""

from __future__ import annotations

import random

import pytest

from nativejobs.training.packing import PackedCollator, PaddedCollator, pack_rows


@pytest.mark.parametrize(("lengths", "capacity"), [
    pytest.param([7, 19, 5, 12, 30, 9], 40, id="mixed"),
    pytest.param([50, 3], 40, id="one-too-long"),
    pytest.param([10] * 8, 20, id="equal"),
    pytest.param([5], 5, id="exact"),
])
def test_pack_rows_places_each_sequence_once_within_capacity(lengths: list[int], capacity: int) -> None:
    rows = pack_rows(lengths, capacity)

    assert sorted(i for row in rows for i in row) == list(range(len(lengths)))
    assert all(sum(lengths[i] for i in row) <= capacity or len(row) == 1 for row in rows)


def test_pack_rows_evens_rows_out() -> None:
    rng = random.Random(0)
    padded = total = 0
    for _ in range(100):
        lengths = [rng.randint(16, 400) for _ in range(8)]
        rows = pack_rows(lengths, 1024)
        width = max(sum(lengths[i] for i in row) for row in rows)
        padded, total = padded + width * len(rows) - sum(lengths), total + width * len(rows)
    assert padded / total < 0.05


def test_pack_rows_none_is_one_row() -> None:
    assert pack_rows([3, 4, 5], None) == [[0, 1, 2]]


def test_packed_collator_resets_positions_and_hides_boundaries() -> None:
    a = {"input_ids": [11, 12, 13], "labels": [-100, 12, 13]}
    b = {"input_ids": [21, 22], "labels": [21, 22]}  # a label on its first token: never scored
    c = {"input_ids": [31, 32, 33, 34], "labels": [-100, -100, 33, 34]}

    batch = PackedCollator(row_tokens=6, pad_id=0)([a, b, c])

    # Two rows are needed; spread evenly (4 + 5 tokens) rather than first-fit (6 + 3).
    assert batch["input_ids"].tolist() == [[31, 32, 33, 34, 0], [11, 12, 13, 21, 22]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 3, 0], [0, 1, 2, 0, 1]]
    assert batch["labels"].tolist() == [[-100, -100, 33, 34, -100], [-100, 12, 13, -100, 22]]


def test_padded_collator_masks_padding() -> None:
    batch = PaddedCollator(pad_id=0)([{"input_ids": [5, 6, 7], "labels": [-100, 6, 7]},
                                      {"input_ids": [8], "labels": [8]}])

    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 6, 7], [8, -100, -100]]
