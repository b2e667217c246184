"""XQuAD loading (real files), prompts, scoring and malformed-file errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from nativejobs.benchmarks import GenerationItem, load_items, score_generations
from nativejobs.errors import StepInputError

LABELS = {
    "es": ("Contexto: ", "\n\nPregunta: ", "\n\nRespuesta:"),
    "ru": ("Контекст: ", "\n\nВопрос: ", "\n\nОтвет:"),
    "zh": ("语境: ", "\n\n问题: ", "\n\n回答:"),
    "en": ("Context: ", "\n\nQuestion: ", "\n\nAnswer:"),
}


def _first_qa(path: Path) -> tuple[str, dict[str, object]]:
    paragraph = json.loads(path.read_text(encoding="utf-8"))["data"][0]["paragraphs"][0]
    return paragraph["context"], paragraph["qas"][0]


@pytest.mark.parametrize("language", ["es", "ru", "zh", "en"], ids=str)
def test_loads_every_xquad_question_with_the_harness_prompt(data: Path, language: str) -> None:
    path = data / "xquad" / f"xquad.{language}.json"
    items = load_items("extractive_qa", path=str(path), language=language, shots=0, limit=None)

    context, qa = _first_qa(path)
    ctx, question, answer = LABELS[language]
    assert len(items) == 1190
    assert items[0].prompt == f"{ctx}{context}{question}{qa['question']}{answer}"
    assert items[0].id == qa["id"] == "56beb4343aeaaa14008c925b"
    assert items[0].golds == ("308",)
    assert (items[0].stop, items[0].max_new_tokens, items[0].language) == (("\n",), 32, language)
    assert len({item.id for item in items}) == 1190


def test_shots_prepend_dev_questions_with_their_first_answer(data: Path) -> None:
    path = str(data / "xquad" / "xquad.en.json")
    plain = load_items("extractive_qa", path=path, language="en", shots=0, limit=3)
    shot = load_items("extractive_qa", path=path, language="en", shots=1, limit=1, dev_path=path)
    assert shot[0].prompt == f"{plain[0].prompt} 308\n\n{plain[0].prompt}"


def _item(language: str, golds: tuple[str, ...]) -> GenerationItem:
    return GenerationItem("q1", "prompt", golds, ("\n",), 32, language)


def test_scores_em_f1_include_and_mlqa_f1() -> None:
    items = [
        _item("en", ("Denver Broncos",)),
        _item("zh", ("丹佛野马队",)),
        _item("es", ("río Amazonas", "el Amazonas")),
    ]
    outputs = [" the Denver Broncos\nQuestion: next", " 野马队", " el río Amazonas"]

    scored = score_generations("extractive_qa", items, outputs)

    assert scored.n == 3
    assert [r["prediction"] for r in scored.records] == [
        " the Denver Broncos",
        " 野马队",
        " el río Amazonas",
    ]
    assert [r["exact_match"] for r in scored.records] == [1.0, 0.0, 0.0]
    assert [r["f1"] for r in scored.records] == pytest.approx([1.0, 0.0, 0.8])
    assert [r["include"] for r in scored.records] == [1.0, 0.0, 1.0]
    assert [r["f1_mlqa"] for r in scored.records] == pytest.approx([1.0, 0.75, 1.0])
    assert scored.metrics == pytest.approx(
        {"exact_match": 1 / 3, "f1": 0.6, "include": 2 / 3, "f1_mlqa": 2.75 / 3}
    )
    assert scored.records[2]["golds"] == ["río Amazonas", "el Amazonas"]


def test_output_count_must_match_items() -> None:
    with pytest.raises(ValueError, match="2 items but 1 outputs"):
        score_generations("extractive_qa", [_item("en", ("a",))] * 2, ["a"])


def test_unsupported_language_names_the_supported_ones(data: Path) -> None:
    path = str(data / "xquad" / "xquad.en.json")
    with pytest.raises(StepInputError, match=r"'de'.*en, es, ru, zh"):
        load_items("extractive_qa", path=path, language="de", shots=0, limit=None)


def test_shots_without_dev_path_is_an_error(data: Path) -> None:
    path = str(data / "xquad" / "xquad.en.json")
    with pytest.raises(StepInputError, match="shots is 1 but no dev_path"):
        load_items("extractive_qa", path=path, language="en", shots=1, limit=None)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"version": "1.1"}', "no top-level 'data' list"),
        (
            '{"data": [{"paragraphs": [{"context": "c", "qas": [{"id": "1", "question": "q"}]}]}]}',
            "data[0].paragraphs[0].qas[0].answers is missing",
        ),
        (
            (
                '{"data": [{"paragraphs": [{"context": "c", "qas": [{"id": "1", "question": "q", '
                '"answers": []}]}]}]}'
            ),
            "answers is empty",
        ),
        ('{"data": [', "invalid JSON at line 1"),
    ],
    ids=["no-data", "no-answers", "empty-answers", "not-json"],
)
def test_malformed_squad_file_names_the_file(
    write: Callable[[str, str], str], text: str, fragment: str
) -> None:
    path = write("broken.json", text)
    with pytest.raises(StepInputError) as raised:
        load_items("extractive_qa", path=path, language="en", shots=0, limit=None)
    assert path in str(raised.value)
    assert fragment in str(raised.value)


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    path = str(tmp_path / "nope.json")
    with pytest.raises(StepInputError, match=f"{path}: not found"):
        load_items("extractive_qa", path=path, language="en", shots=0, limit=None)
