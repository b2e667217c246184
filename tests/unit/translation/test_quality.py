"""Quality checks: language identification (lingua, for real) and the length ratio."""

from __future__ import annotations

import pytest

from nativejobs.translation import QualityChecker, QualityConfig, identify_language

EN = "The weather is lovely today, so we are going for a long walk in the park."
ES = "Hoy hace un tiempo precioso, así que vamos a dar un largo paseo por el parque."
ZH = "今天天气很好，所以我们要去公园散步很久，然后回家吃晚饭。"


@pytest.mark.parametrize(("text", "lang"), [(EN, "en"), (ES, "es"), (ZH, "zh"),
                                            ("Сегодня прекрасная погода, пойдём гулять в парк.", "ru"),
                                            ("Tá an aimsir go hálainn inniu, rachaimid ag siúl.", "ga")])
def test_identify_language(text: str, lang: str) -> None:
    assert identify_language(text) == lang


def check(source: str, translation: str, src: str = "en", tgt: str = "es", **cfg: object) -> tuple[str, ...]:
    return QualityChecker(QualityConfig(**cfg), src, tgt).check(source, translation)  # type: ignore[arg-type]


def test_a_good_translation_passes() -> None:
    assert check(EN, ES) == ()
    assert check(EN, ZH, tgt="zh") == ()  # zh is denser: the ratio is normalised
    assert check(ZH, EN, src="zh", tgt="en") == ()


def test_wrong_language_is_flagged() -> None:
    assert check(EN, EN) == ("language",)


def test_language_id_can_be_turned_off() -> None:
    assert check(EN, EN, language_id=False) == ()


def test_too_short_or_too_long_is_flagged() -> None:
    assert "length_ratio" in check(EN, "Hoy hace sol.")
    assert "length_ratio" in check(EN, " ".join([ES] * 4))


def test_empty_result_of_a_text_with_letters() -> None:
    assert check(EN, "   ") == ("empty",)
    assert check("", "") == ()
    assert check("42", "") == ()


def test_short_texts_are_not_judged() -> None:
    assert check("Yes.", "Yes.") == ()  # too few letters to identify, too short for a ratio


def test_code_is_left_out_of_language_identification() -> None:
    code = "\n```python\nfor item in items:\n    print(item, 'is in the list of things')\n```"
    assert check(EN + code, ES + code) == ()
