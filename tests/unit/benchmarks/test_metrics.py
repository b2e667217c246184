"""SQuAD v1.1 EM/F1, include and MLQA F1 on hand-computed cases."""

from __future__ import annotations

import pytest

from nativejobs.benchmarks import metrics


@pytest.mark.parametrize(
    ("prediction", "gold", "expected"),
    [
        ("the Denver Broncos", "Denver Broncos", 1.0),
        ("Broncos!", "broncos", 1.0),
        ("  an   apple ", "Apple", 1.0),
        ("Denver Broncos won", "Denver Broncos", 0.0),
        ("丹佛野马队。", "丹佛野马队", 0.0),  # full-width punctuation is not ASCII punctuation
    ],
    ids=["article", "punctuation-case", "whitespace-article", "extra-word", "zh-fullwidth-punct"],
)
def test_squad_exact_match(prediction: str, gold: str, expected: float) -> None:
    assert metrics.squad_exact_match(prediction, gold) == expected


@pytest.mark.parametrize(
    ("prediction", "gold", "expected"),
    [
        ("Denver Broncos won", "Denver Broncos", 0.8),  # P 2/3, R 1
        ("the quick brown fox", "a quick red fox jumps", 4 / 7),  # P 2/3, R 2/4
        ("el río Amazonas", "río Amazonas", 0.8),  # Spanish articles stay in SQuAD
        ("野马队", "丹佛野马队", 0.0),  # one whitespace token each: no overlap
        ("nothing shared", "Denver", 0.0),
    ],
    ids=["partial-overlap", "articles-dropped", "es-article-kept", "zh-one-token", "no-overlap"],
)
def test_squad_f1(prediction: str, gold: str, expected: float) -> None:
    assert metrics.squad_f1(prediction, gold) == pytest.approx(expected)


def test_max_over_golds_takes_the_best_gold() -> None:
    golds = ("Carolina Panthers", "the Panthers", "Panthers team")
    assert metrics.max_over_golds(metrics.squad_exact_match, "Panthers", golds) == 1.0
    # best F1 is against "Panthers team": P 1/2, R 1/2
    assert metrics.max_over_golds(metrics.squad_f1, "Panthers won", golds[::2]) == 0.5


@pytest.mark.parametrize(
    ("prediction", "gold", "expected"),
    [
        ("Fue en 1990, creo.", "1990", 1.0),
        ("The Denver Broncos.", "Denver Broncos", 1.0),
        ("Denver", "Denver Broncos", 0.0),
        ("他们得了308分", "308", 1.0),
        ("anything", "the", 0.0),  # a gold that normalises to nothing matches nothing
    ],
    ids=["es-inside", "article-and-punct", "gold-longer", "zh-inside", "empty-gold"],
)
def test_include(prediction: str, gold: str, expected: float) -> None:
    assert metrics.include(prediction, gold) == expected


def test_mlqa_zh_f1_counts_characters_where_squad_scores_zero() -> None:
    # MLQA: pred 野/马/队 vs gold 丹/佛/野/马/队 -> P 3/3, R 3/5, F1 2*0.6/1.6 = 0.75
    assert metrics.mlqa_f1("野马队", "丹佛野马队", "zh") == pytest.approx(0.75)
    assert metrics.squad_f1("野马队", "丹佛野马队") == 0.0


@pytest.mark.parametrize(
    ("text", "language", "tokens"),
    [
        ("丹佛野马队（NFL）。", "zh", ["丹", "佛", "野", "马", "队", "nfl"]),
        ("在 2016 年", "zh", ["在", "2016", "年"]),
        ("El río, «Amazonas»", "es", ["río", "amazonas"]),
        ("The river — Amazon", "en", ["river", "amazon"]),
        ("Река «Волга»", "ru", ["река", "волга"]),
    ],
    ids=["zh-chars-unicode-punct", "zh-mixed-digits", "es-articles", "en-articles", "ru-none"],
)
def test_mlqa_tokens(text: str, language: str, tokens: list[str]) -> None:
    assert metrics.mlqa_tokens(text, language) == tokens


def test_mlqa_f1_removes_spanish_articles_and_unicode_punctuation() -> None:
    assert metrics.mlqa_f1("el río Amazonas", "río Amazonas", "es") == 1.0
    assert metrics.mlqa_f1("丹佛野马队。", "丹佛野马队", "zh") == 1.0
    assert metrics.mlqa_f1("el río", "río", "en") == pytest.approx(2 / 3)  # "el" kept in en


def test_mean_rejects_no_values() -> None:
    with pytest.raises(ValueError, match="no values"):
        metrics.mean([])
