"""CMMLU loading (real files), prompts, log-likelihood scoring and malformed-file errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from nativejobs.benchmarks import ChoiceItem, load_items, score_choices
from nativejobs.benchmarks.multiple_choice import SUBJECTS
from nativejobs.errors import StepInputError

AGRONOMY_1_SHOT = (
    "以下是关于农学的单项选择题，请直接给出正确答案的选项。\n\n"
    "肉牛屠宰后，胴体的哪个部位肉质较好\nA. 胸\nB. 腹\nC. 大腿\nD. 小腿\n答案： C\n\n"
    "在农业生产中被当作极其重要的劳动对象发挥作用，最主要的不可替代的基本生产资料是\n"
    "A. 农业生产工具\nB. 土地\nC. 劳动力\nD. 资金\n答案："
)


def _agronomy(data: Path, language: str, shots: int, limit: int | None) -> list[ChoiceItem]:
    return load_items(
        "multiple_choice",
        path=str(data / "cmmlu" / "test" / "agronomy.csv"),
        language=language,
        shots=shots,
        limit=limit,
        dev_path=str(data / "cmmlu" / "dev" / "agronomy.csv"),
    )


def test_zh_prompt_is_the_harness_cmmlu_prompt(data: Path) -> None:
    [item] = _agronomy(data, "zh", shots=1, limit=1)
    assert item == ChoiceItem("agronomy-0", AGRONOMY_1_SHOT, (" A", " B", " C", " D"), 1)


def test_other_languages_use_answer_cue_and_no_description(data: Path) -> None:
    [item] = _agronomy(data, "en", shots=1, limit=1)
    assert item.context.startswith("肉牛屠宰后")
    assert "\nD. 小腿\nAnswer: C\n\n" in item.context
    assert item.context.endswith("\nD. 资金\nAnswer:")


def test_five_shots_and_golds_from_the_answer_column(data: Path) -> None:
    items = _agronomy(data, "zh", shots=5, limit=None)
    assert len(items) == 169
    assert items[0].context.count("答案：") == 6
    assert [item.gold for item in items[:4]] == [1, 1, 2, 3]  # B, B, C, D in the file
    assert len({item.id for item in items}) == 169


@pytest.mark.parametrize("subject", sorted(SUBJECTS), ids=str)
def test_every_cmmlu_subject_loads_with_five_shots(data: Path, subject: str) -> None:
    items = load_items(
        "multiple_choice",
        path=str(data / "cmmlu" / "test" / f"{subject}.csv"),
        language="zh",
        shots=5,
        limit=None,
        dev_path=str(data / "cmmlu" / "dev" / f"{subject}.csv"),
    )
    assert len(items) >= 105
    assert items[0].context.startswith(f"以下是关于{SUBJECTS[subject]}的单项选择题")


def test_accuracy_is_argmax_loglikelihood_first_on_ties(data: Path) -> None:
    items = _agronomy(data, "zh", shots=0, limit=4)  # golds B, B, C, D
    lls = [
        [-1.0, -0.5, -3.0, -2.0],  # B: right
        [-0.1, -0.5, -3.0, -2.0],  # A: wrong
        [-4.0, -3.0, -0.2, -2.0],  # C: right
        [-4.0, -3.0, -1.0, -1.0],  # C and D tie -> C: wrong
    ]
    scored = score_choices(items, lls)
    assert scored.metrics == {"accuracy": 0.5}
    assert scored.n == 4
    assert [r["prediction"] for r in scored.records] == [" B", " A", " C", " C"]
    assert [r["accuracy"] for r in scored.records] == [1.0, 0.0, 1.0, 0.0]
    assert scored.records[3]["golds"] == [" D"]
    assert scored.records[0]["context"] == items[0].context


def test_wrong_number_of_loglikelihoods_is_rejected() -> None:
    item = ChoiceItem("q", "ctx", (" A", " B", " C", " D"), 0)
    with pytest.raises(ValueError, match="item q: 3 log-likelihoods for 4 choices"):
        score_choices([item], [[-1.0, -2.0, -3.0]])


HEADER = ",Question,A,B,C,D,Answer\n"


@pytest.mark.parametrize(
    ("csv_text", "fragment"),
    [
        (",Question,A,B,C,D\n0,q,a,b,c,d\n", "header lacks column(s) Answer"),
        (HEADER + "0,q,a,b,c,d,A\n1,q,a,b,c,d,E\n", "line 3 has Answer 'E'"),
        (HEADER + "0,q,a,b,c,d\n", "line 2 does not have one value per header column"),
        (HEADER + "0,q,a,b,c,d,A,extra\n", "line 2 does not have one value per header column"),
        (HEADER, "holds no questions"),
    ],
    ids=["missing-answer-column", "bad-answer-letter", "short-row", "long-row", "no-rows"],
)
def test_malformed_csv_names_the_file(
    write: Callable[[str, str], str], csv_text: str, fragment: str
) -> None:
    path = write("agronomy.csv", csv_text)
    with pytest.raises(StepInputError) as raised:
        load_items("multiple_choice", path=path, language="zh", shots=0, limit=None)
    assert path in str(raised.value)
    assert fragment in str(raised.value)


def test_malformed_dev_file_names_the_dev_file(
    data: Path, write: Callable[[str, str], str]
) -> None:
    dev = write("agronomy.csv", HEADER + "0,q,a,b,c,d,F\n")
    with pytest.raises(StepInputError, match=f"{dev}: line 2 has Answer 'F'"):
        load_items(
            "multiple_choice",
            path=str(data / "cmmlu" / "test" / "agronomy.csv"),
            language="zh",
            shots=1,
            limit=None,
            dev_path=dev,
        )


def test_zh_file_must_be_named_after_a_cmmlu_subject(write: Callable[[str, str], str]) -> None:
    path = write("my_subject.csv", HEADER + "0,q,a,b,c,d,A\n")
    with pytest.raises(StepInputError, match="subject 'my_subject'"):
        load_items("multiple_choice", path=path, language="zh", shots=0, limit=None)
    [item] = load_items("multiple_choice", path=path, language="en", shots=0, limit=None)
    assert item.context == "q\nA. a\nB. b\nC. c\nD. d\nAnswer:"


def test_more_shots_than_dev_rows_is_an_error(data: Path) -> None:
    with pytest.raises(StepInputError, match="has 5 few-shot examples but shots is 6"):
        _agronomy(data, "zh", shots=6, limit=None)
