"""Results: ΔS on a hand-computed table, and the three renderings.

ΔS = native − mean(translated conditions); round-trip conditions are not in the reference
(the paper: ½(S_cohere + S_google)). The numbers below are worked by hand, not by ``gaps``.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from nativejobs.report import FORMATS, gaps, render
from tests.unit.builders import record

KINDS = {"native": "native", "cohere": "translated", "google": "translated", "rtt": "round_trip"}


def table() -> list[dict[str, Any]]:
    """One full cell (es/qa) and two partial ones."""
    return [
        record("native", 0.5), record("cohere", 0.2), record("google", 0.4), record("rtt", 0.9),
        # ru: no native score, so no gap
        record("cohere", 0.3, language="ru"), record("google", 0.1, language="ru"),
        # zh: no translated score (round trip only), so no gap
        record("native", 0.7, language="zh"), record("rtt", 0.6, language="zh"),
    ]


# -- gaps ----------------------------------------------------------------------------------------
def test_gap_is_native_minus_mean_of_translated() -> None:
    (gap,) = gaps(table(), KINDS)

    assert (gap["model"], gap["arm"], gap["language"], gap["benchmark"], gap["metric"]) == (
        "m1", "a1", "es", "qa", "f1")
    assert gap["native"] == pytest.approx(0.5)
    assert gap["translated_mean"] == pytest.approx(0.3)  # (0.2 + 0.4) / 2; rtt's 0.9 left out
    assert gap["delta"] == pytest.approx(0.2)


@pytest.mark.parametrize(("records", "expected"), [
    pytest.param([record("cohere", 0.3), record("google", 0.1)], [], id="no-native"),
    pytest.param([record("native", 0.7), record("rtt", 0.6)], [], id="only-round-trip"),
    pytest.param([record("native", 0.7)], [], id="native-only"),
    pytest.param([record("native", 0.25), record("google", 0.5)], [-0.25], id="negative-gap"),
    pytest.param([record("native", 0.6), record("unknown", 0.0), record("cohere", 0.4)], [0.2],
                 id="unknown-condition-ignored"),
    pytest.param([], [], id="no-records"),
])
def test_gap_needs_native_and_translated(records: list[dict[str, Any]],
                                         expected: list[float]) -> None:
    assert [g["delta"] for g in gaps(records, KINDS)] == pytest.approx(expected)


def test_gaps_are_per_cell() -> None:
    records = [record("native", 0.5), record("cohere", 0.1),
               record("native", 0.9, metric="em"), record("cohere", 0.8, metric="em"),
               record("native", 0.4, arm="a2"), record("cohere", 0.4, arm="a2")]

    out = {(g["arm"], g["metric"]): g["delta"] for g in gaps(records, KINDS)}

    assert out == pytest.approx({("a1", "f1"): 0.4, ("a1", "em"): 0.1, ("a2", "f1"): 0.0})


# -- render --------------------------------------------------------------------------------------
def md_rows(text: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in text.splitlines()]


def test_markdown_has_condition_columns_and_delta() -> None:
    rows = md_rows(render(table(), KINDS, "md"))

    assert rows[0] == ["model", "arm", "language", "benchmark", "metric",
                       "native", "cohere", "google", "rtt", "ΔS"]
    assert all(set(c) <= {"-"} for c in rows[1])  # the separator row
    body = {r[2]: r for r in rows[2:]}
    assert sorted(body) == ["es", "ru", "zh"]
    assert body["es"][5:] == ["0.500", "0.200", "0.400", "0.900", "0.200"]
    assert body["ru"][5:] == ["–", "0.300", "0.100", "–", "–"]
    assert body["zh"][5:] == ["0.700", "–", "–", "0.600", "–"]


def test_markdown_leaves_out_conditions_without_records() -> None:
    header = md_rows(render([record("native", 0.5), record("google", 0.4)], KINDS, "md"))[0]

    assert header[5:] == ["native", "google", "ΔS"]


def test_csv_round_trips() -> None:
    records = [*table(), record("native", 0.1, note="extra, with a comma")]

    rows = list(csv.DictReader(io.StringIO(render(records, KINDS, "csv"))))

    assert len(rows) == len(records)
    for row, rec in zip(rows, records, strict=True):
        assert row == {k: str(rec.get(k, "")) for k in row}
        assert set(row) == {*table()[0], "note"}


def test_json_round_trips() -> None:
    records = [*table(), record("native", 0.1, language="zh", note="ñ ✓")]

    text = render(records, KINDS, "json")

    assert json.loads(text) == records
    assert "ñ ✓" in text  # readable, not \u-escaped


def test_every_format_renders() -> None:
    assert set(FORMATS) == {"md", "csv", "json"}
    for fmt in FORMATS:
        assert render(table(), KINDS, fmt).endswith("\n")


def test_unknown_format_names_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown format 'xlsx'; use one of md, csv, json"):
        render(table(), KINDS, "xlsx")
