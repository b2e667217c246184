"""open_qa: the OASST question files, items for the evaluate step, answers kept for the judges."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from nativejobs.benchmarks.open_qa import MAX_NEW_TOKENS, STOP, load, score
from nativejobs.errors import StepInputError


@pytest.mark.parametrize("lang", ["en", "es", "ru", "zh"])
def test_the_shared_question_sets_load_with_the_same_ids(data: Path, lang: str) -> None:
    items = load(path=str(data / "openqa" / f"test_{lang}.jsonl"), language=lang,
                       shots=0, limit=None)
    english = load(path=str(data / "openqa" / "test_en.jsonl"), language="en",
                         shots=0, limit=None)

    assert len(items) == len({i.id for i in items}) == 50
    # OASST message ids, shared across languages; the authors' zh file swaps one question.
    assert len({i.id for i in items} & {i.id for i in english}) >= 49
    assert all(i.prompt.strip() and i.golds == () and i.language == lang for i in items)
    assert items[0].max_new_tokens == MAX_NEW_TOKENS == 256 and items[0].stop == STOP


def test_limit_keeps_the_first_questions(write: Callable[[str, str], str]) -> None:
    path = write("q.jsonl", "\n".join(json.dumps({"id": f"q{i}", "prompt": f"P{i}"}) for i in range(5)))

    items = load(path=path, language="es", shots=0, limit=2)

    assert [(i.id, i.prompt) for i in items] == [("q0", "P0"), ("q1", "P1")]


def test_score_keeps_question_and_answer_and_computes_no_metric(write: Callable[[str, str], str]) -> None:
    path = write("q.jsonl", '{"id": 7, "prompt": "¿Qué hora es?"}\n\n{"id": "b", "prompt": "Hola"}\n')
    items = load(path=path, language="es", shots=0, limit=None)

    scored = score(items, [" Son las tres.\n### Instruction:\nmore", "¡Hola!"])

    assert scored.metrics == {} and scored.n == 2
    assert scored.records == [{"id": "7", "question": "¿Qué hora es?", "prediction": "Son las tres."},
                              {"id": "b", "question": "Hola", "prediction": "¡Hola!"}]


@pytest.mark.parametrize(("text", "problem"), [
    pytest.param('{"id": "a", "prompt": "x"}\nnot json\n', "line 2 is not JSON", id="not-json"),
    pytest.param('{"id": "a"}\n', "lacks a string 'id' or a non-empty 'prompt'", id="no-prompt"),
    pytest.param('{"id": "a", "prompt": "  "}\n', "non-empty 'prompt'", id="blank-prompt"),
    pytest.param('["a", "b"]\n', "lacks a string 'id'", id="not-an-object"),
    pytest.param('{"id": "a", "prompt": "x"}\n{"id": "a", "prompt": "y"}\n', "repeats id 'a'",
                 id="duplicate-id"),
    pytest.param("\n\n", "holds no questions", id="empty"),
])
def test_bad_files_name_the_file_and_the_line(write: Callable[[str, str], str], text: str,
                                               problem: str) -> None:
    path = write("bad.jsonl", text)

    with pytest.raises(StepInputError) as e:
        load(path=path, language="es", shots=0, limit=None)

    assert str(e.value).startswith(f"benchmark file {path}: ") and problem in str(e.value)


def test_open_qa_is_zero_shot(write: Callable[[str, str], str]) -> None:
    path = write("q.jsonl", '{"id": "a", "prompt": "x"}\n')

    with pytest.raises(StepInputError, match="zero-shot; shots is 1"):
        load(path=path, language="es", shots=1, limit=None, dev_path=path)
