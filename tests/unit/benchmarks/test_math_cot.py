"""MGSM loading (real files), native-CoT prompts, strict vs flexible scoring, file errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from nativejobs.benchmarks import GenerationItem, load_items, score_generations
from nativejobs.benchmarks.math_cot import extract_flexible, extract_strict, normalize_number
from nativejobs.errors import StepInputError

ES_Q0 = (
    "Los patos de Janet ponen 16 huevos por día. Ella come tres en el desayuno todas las "
    "mañanas y usa cuatro para hornear magdalenas para sus amigos todos los días. Vende lo que "
    "sobra en el mercado de productores diariamente a $2 el huevo fresco de pato. ¿Cuánto gana "
    "en dólares todos los días en el mercado de productores?"
)
ES_SHOT1 = (
    "Pregunta: Roger tiene 5 pelotas de tenis. Compra 2 tubos más de pelotas de tenis. Cada "
    "tubo contiene 3 pelotas de tenis. ¿Cuántas pelotas de tenis tiene ahora?\n"
    "Respuesta paso a paso: Roger comenzó con 5 pelotas. 2 tubos de 3 pelotas de tenis cada uno "
    "equivale a 6 pelotas de tenis. 5 + 6 = 11. La respuesta es 11."
)


def _load(data: Path, language: str, shots: int, limit: int | None) -> list[GenerationItem]:
    return load_items(
        "math_cot",
        path=str(data / "mgsm" / f"mgsm_{language}.tsv"),
        language=language,
        shots=shots,
        limit=limit,
        dev_path=str(data / "mgsm" / f"mgsm_exemplars_{language}.json"),
    )


@pytest.mark.parametrize(
    ("language", "question", "stop"),
    [
        ("es", "Pregunta: ", "Pregunta:"),
        ("ru", "Задача: ", "Задача:"),
        ("zh", "问题： ", "问题："),
        ("en", "Question: ", "Question:"),
    ],
    ids=["es", "ru", "zh", "en"],
)
def test_loads_all_250_problems(data: Path, language: str, question: str, stop: str) -> None:
    items = _load(data, language, shots=5, limit=None)
    assert len(items) == 250
    assert items[0].golds == ("18",)
    assert items[146].golds == ("2,125",)  # the TSV writes thousands separators
    assert items[0].stop == (stop, "</s>", "<|im_end|>")
    assert items[0].max_new_tokens == 256
    blocks = items[0].prompt.split("\n\n")
    assert len(blocks) == 6  # 5 exemplars + the test question
    assert blocks[-1].startswith(question)
    assert items[0].id == f"mgsm_{language}-0"


def test_es_prompt_is_the_harness_native_cot_prompt(data: Path) -> None:
    [item] = _load(data, "es", shots=1, limit=1)
    assert item.prompt == f"{ES_SHOT1}\n\nPregunta: {ES_Q0}\nRespuesta paso a paso:"


def test_zero_shot_is_the_test_question_alone(data: Path) -> None:
    [item] = load_items(
        "math_cot", path=str(data / "mgsm" / "mgsm_es.tsv"), language="es", shots=0, limit=1
    )
    assert item.prompt == f"Pregunta: {ES_Q0}\nRespuesta paso a paso:"


@pytest.mark.parametrize(
    ("language", "expected_start"),
    [
        # exemplar prefixes are replaced by the harness cues, nothing else is lost
        ("ru", "Задача: у Роджера 5 теннисных мячей."),
        ("zh", "问题：罗杰有 5 个网球。"),
    ],
    ids=["ru", "zh"],
)
def test_exemplar_cot_keeps_its_first_word(data: Path, language: str, expected_start: str) -> None:
    first_block = _load(data, language, shots=1, limit=1)[0].prompt.split("\n\n")[0]
    question, answer = first_block.split("\n")
    assert question.startswith(expected_start)
    expected_answer = {"ru": "Пошаговоерешение: в начале у Роджера", "zh": "逐步解答: 罗杰一开始"}
    assert answer.startswith(expected_answer[language])


def test_limit_takes_the_first_problems_in_file_order(data: Path) -> None:
    assert _load(data, "zh", shots=0, limit=4) == _load(data, "zh", shots=0, limit=None)[:4]


@pytest.mark.parametrize(
    ("language", "output", "gold", "strict", "flexible"),
    [
        ("es", " Tiene 16 - 3 - 4 = 9 huevos. 9 * 2 = 18. La respuesta es 18.", "18", 1.0, 1.0),
        ("es", " La respuesta es 1,000. Luego vende 2 cajas más.", "1000", 1.0, 0.0),
        ("es", " Gana 9 * 2 = 18 dólares al día.", "18", 0.0, 1.0),
        ("es", " 50.000 + 20.000 = 70.000. La respuesta es 70.000.", "70000", 1.0, 1.0),
        ("ru", " 2000 + 125 = 2125 долларов. Ответ — 2,125.", "2,125", 1.0, 1.0),
        ("ru", " 5 + 6 = 11. Ответ: 11", "11", 0.0, 1.0),
        ("ru", " Ответ — 5. Проверка: 5 + 6 = 11.", "5", 1.0, 0.0),
        ("zh", " 5 + 6 = 11。答案是 11。", "11", 1.0, 1.0),
        ("zh", " 5 + 6 = 11。答案是11。", "11", 0.0, 1.0),
        ("zh", " 一共 114,200 元。答案是 114,200。", "114,200", 1.0, 1.0),
        ("zh", " 答案是 12.00。", "12", 1.0, 1.0),
    ],
    ids=[
        "es-both",
        "es-1,000-then-another-number",
        "es-no-phrase",
        "es-dot-thousands",
        "ru-both",
        "ru-colon-not-dash",
        "ru-number-after-phrase",
        "zh-both",
        "zh-no-space",
        "zh-thousands",
        "zh-trailing-zeros",
    ],
)
def test_strict_and_flexible_extraction(
    language: str, output: str, gold: str, strict: float, flexible: float
) -> None:
    item = GenerationItem("x", "p", (gold,), ("Pregunta:",), 256, language)
    [record] = score_generations("math_cot", [item], [output]).records
    assert (record["exact_match_strict"], record["exact_match_flexible"]) == (strict, flexible)


def test_records_keep_both_extractions_and_scoring_cuts_at_the_stop() -> None:
    item = GenerationItem("x", "p", ("18",), ("Pregunta:", "</s>"), 256, "es")
    output = " 9 * 2 = 18. La respuesta es 18.\n\nPregunta: Ana tiene 7 peras"
    scored = score_generations("math_cot", [item, item], [output, " No lo sé."])
    first, second = scored.records
    assert first["prediction"] == " 9 * 2 = 18. La respuesta es 18.\n\n"
    assert (first["extracted_strict"], first["extracted_flexible"]) == ("18.", "18.")
    assert (second["extracted_strict"], second["extracted_flexible"]) == (None, None)
    assert scored.metrics == {"exact_match_strict": 0.5, "exact_match_flexible": 0.5}
    assert scored.n == 2


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("1,000", "1000"),
        ("1.000", "1000"),
        ("$1,000.", "1000"),
        ("12.0", "12"),
        ("12.00", "12"),
        ("1.000,00", "1000"),
        ("-5", "-5"),
        ("18。", "18"),
        ("$", ""),
    ],
    ids=[
        "comma-thousands",
        "dot-thousands",
        "currency-period",
        "one-zero",
        "two-zeros",
        "es-decimal-zeros",
        "negative",
        "zh-period",
        "no-digits",
    ],
)
def test_normalize_number(text: str, number: str) -> None:
    assert normalize_number(text) == number


def test_extractors_pick_first_strict_and_last_flexible_match() -> None:
    text = "La respuesta es 3. No, La respuesta es 4. Total $1,250."
    assert extract_strict(text, "es") == "3."
    assert extract_flexible(text) == "$1,250."


@pytest.mark.parametrize(
    ("tsv", "fragment"),
    [
        ("¿Cuánto?\t18\textra\n", "line 1 has 3 tab-separated fields"),
        ("¿Cuánto?\t18\n¿Y ahora?\tdieciocho\n", "line 2 has answer 'dieciocho'"),
        ("", "holds no problems"),
    ],
    ids=["three-columns", "non-numeric-answer", "empty"],
)
def test_malformed_tsv_names_the_file(
    write: Callable[[str, str], str], tsv: str, fragment: str
) -> None:
    path = write("mgsm_es.tsv", tsv)
    with pytest.raises(StepInputError) as raised:
        load_items("math_cot", path=path, language="es", shots=0, limit=None)
    assert path in str(raised.value)
    assert fragment in str(raised.value)


@pytest.mark.parametrize(
    ("exemplars", "fragment"),
    [
        (
            [{"q": "Roger tiene 5 pelotas.", "a": "Respuesta paso a paso: 11."}],
            "exemplar [0] q 'Roger tiene 5 pelotas.'",
        ),
        (
            [{"q": "Pregunta: Roger tiene 5 pelotas.", "a": "Roger empezó con 5. 11."}],
            "exemplar [0] a 'Roger empezó con 5. 11.'",
        ),
        ([{"q": "Pregunta: x"}], "exemplar [0] lacks string 'q' and 'a'"),
        ({"q": "Pregunta: x", "a": "Respuesta paso a paso: 1"}, "is not a JSON list"),
    ],
    ids=["question-prefix-stripped", "answer-prefix-stripped", "no-answer", "not-a-list"],
)
def test_malformed_exemplars_name_the_file(
    data: Path, write: Callable[[str, str], str], exemplars: object, fragment: str
) -> None:
    dev = write("exemplars.json", json.dumps(exemplars, ensure_ascii=False))
    with pytest.raises(StepInputError) as raised:
        load_items(
            "math_cot",
            path=str(data / "mgsm" / "mgsm_es.tsv"),
            language="es",
            shots=1,
            limit=None,
            dev_path=dev,
        )
    assert dev in str(raised.value)
    assert fragment in str(raised.value)


def test_more_shots_than_exemplars_is_an_error(data: Path) -> None:
    with pytest.raises(StepInputError, match="has 8 few-shot examples but shots is 9"):
        _load(data, "es", shots=9, limit=None)


def test_unsupported_language_is_an_error(data: Path) -> None:
    with pytest.raises(StepInputError, match=r"'fr'.*en, es, ru, zh"):
        load_items(
            "math_cot", path=str(data / "mgsm" / "mgsm_es.tsv"), language="fr", shots=0, limit=None
        )
