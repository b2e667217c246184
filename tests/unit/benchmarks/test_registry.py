"""The kind registry: dispatch, argument checks, and the public surface."""

from __future__ import annotations

from pathlib import Path

import pytest

from nativejobs import benchmarks
from nativejobs.benchmarks import KINDS, GenerationItem, load_items, score_generations
from nativejobs.errors import StepInputError


def test_kinds_are_the_four_supported() -> None:
    assert KINDS == ("extractive_qa", "math_cot", "multiple_choice", "open_qa")


def test_public_api_is_explicit() -> None:
    assert sorted(benchmarks.__all__) == sorted(
        [
            "HARNESS_KINDS",
            "HARNESS_VERSION",
            "KINDS",
            "SourceCheck",
            "check_sources",
            "ChoiceItem",
            "GenerationItem",
            "ScoredBenchmark",
            "load_items",
            "score_choices",
            "score_generations",
        ]
    )


def test_unknown_kind_lists_known_kinds(data: Path) -> None:
    with pytest.raises(StepInputError) as raised:
        load_items("tydiqa", path=str(data), language="ru", shots=1, limit=None)
    assert str(raised.value) == (
        "unknown benchmark kind 'tydiqa'; known kinds: extractive_qa, math_cot, multiple_choice, "
        "open_qa"
    )
    with pytest.raises(StepInputError, match="known kinds: extractive_qa"):
        score_generations("tydiqa", [], [])


def test_choice_kind_cannot_be_scored_as_generations() -> None:
    item = GenerationItem("q", "p", ("A",), ("\n",), 1, "zh")
    with pytest.raises(StepInputError, match="scored by log-likelihood; use score_choices"):
        score_generations("multiple_choice", [item], ["A"])


@pytest.mark.parametrize(
    ("shots", "limit", "fragment"),
    [(-1, None, "shots is -1"), (0, 0, "limit is 0")],
    ids=["negative-shots", "zero-limit"],
)
def test_bad_shots_or_limit(data: Path, shots: int, limit: int | None, fragment: str) -> None:
    path = str(data / "xquad" / "xquad.en.json")
    with pytest.raises(StepInputError, match=fragment):
        load_items("extractive_qa", path=path, language="en", shots=shots, limit=limit)


@pytest.mark.parametrize(
    ("kind", "path", "language"),
    [
        ("extractive_qa", "xquad/xquad.ru.json", "ru"),
        ("math_cot", "mgsm/mgsm_ru.tsv", "ru"),
        ("multiple_choice", "cmmlu/test/virology.csv", "zh"),
    ],
    ids=["extractive_qa", "math_cot", "multiple_choice"],
)
def test_limit_is_the_first_items_in_file_order(
    data: Path, kind: str, path: str, language: str
) -> None:
    every = load_items(kind, path=str(data / path), language=language, shots=0, limit=None)
    first = load_items(kind, path=str(data / path), language=language, shots=0, limit=7)
    again = load_items(kind, path=str(data / path), language=language, shots=0, limit=7)
    assert first == every[:7] == again
    assert len(every) > 7


def test_no_items_is_an_error() -> None:
    with pytest.raises(ValueError, match="no items to score"):
        score_generations("math_cot", [], [])
