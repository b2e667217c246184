"""The paper's "include" (gold verbatim in the generation) and the normalised variant, on real
XQuAD questions (shared/data/xquad, read through the ``data`` fixture)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nativejobs.benchmarks import metrics

# XQuAD question ids (the same id in every language) whose golds show where the rules differ.
PERCENT = "571cb27fdd7acb1400e4c134"  # es "12 %", zh/ru "12%"
LEAGUE = "5706143575f01819005e7951"  # es "la NBA", ru "НБА", zh "NBA"
TIMES = "56beb4343aeaaa14008c925c"  # zh "136 次", es/ru "136"


def gold(data: Path, language: str, qid: str) -> str:
    doc = json.loads((data / "xquad" / f"xquad.{language}.json").read_text(encoding="utf-8"))
    (answer,) = {q["answers"][0]["text"] for a in doc["data"] for p in a["paragraphs"]
                 for q in p["qas"] if q["id"] == qid}
    return answer


@pytest.mark.parametrize(
    ("language", "qid", "prediction", "paper", "normalized"),
    [
        ("es", PERCENT, "Alrededor del 12 % de la población.", 1.0, 1.0),
        # Gold "12 %" normalises to "12", which "120" contains: the bug the paper rule fixes.
        ("es", PERCENT, "unos 120 millones", 0.0, 1.0),
        ("zh", PERCENT, "约为12%。", 1.0, 1.0),
        ("ru", PERCENT, "около 12 %", 0.0, 1.0),  # the paper's rule keeps the gold's spacing
        ("es", LEAGUE, "la NBA y la MLB", 1.0, 1.0),
        ("es", LEAGUE, "La NBA", 0.0, 1.0),  # no case folding in the paper's rule
        ("ru", LEAGUE, "В НБА.", 1.0, 1.0),
        ("zh", TIMES, "他们拦截了136 次。", 1.0, 1.0),
        ("zh", TIMES, "他们拦截了136次。", 0.0, 0.0),
    ],
    ids=["es-pct-inside", "es-pct-in-120", "zh-pct", "ru-pct-spacing", "es-article-kept",
         "es-case", "ru-inside", "zh-inside", "zh-no-space"],
)
def test_include_rules_on_xquad(data: Path, language: str, qid: str, prediction: str,
                                paper: float, normalized: float) -> None:
    answer = gold(data, language, qid)
    assert metrics.include(prediction, answer) == paper
    assert metrics.include_normalized(prediction, answer) == normalized


def test_the_gold_is_trimmed_of_surrounding_whitespace() -> None:
    assert metrics.include("en 1990", " 1990\n") == 1.0
    assert metrics.include("anything", "  ") == 0.0
    assert metrics.include_normalized("anything", "the") == 0.0


def test_include_is_max_over_golds_as_the_benchmarks_score_it() -> None:
    assert metrics.max_over_golds(metrics.include, "La NBA", ["la NBA", "NBA"]) == 1.0
