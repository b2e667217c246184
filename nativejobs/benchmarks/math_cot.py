r"""Math word problems with chain of thought (MGSM), built as lm-eval's ``mgsm_native_cot_{lang}``.

Test file: headerless TSV (question, numeric answer) read with ``csv.QUOTE_NONE``
(google-research/url-nlp ``mgsm/mgsm_{lang}.tsv``). Few-shot file: JSON list of
``{"id", "q", "a", "number_answer"}`` with ``q``/``a`` carrying their language prefixes
(url-nlp ``mgsm/exemplars.py``); the first ``shots`` are used (lm-eval's ``first_n``).

Prompt (lm-eval ``mgsm/utils.py`` ``LANGUAGES`` + generated ``native_cot`` YAMLs)::

    {q_1}\n{ANSWER} {cot_1}\n\n ... {q_k}\n{ANSWER} {cot_k}\n\n{QUESTION} {question}\n{ANSWER}

``cot_i`` is the exemplar answer without its own prefix. lm-eval slices it off by the length of
``ANSWER`` instead, which drops a character of the zh exemplars (``逐步解答：`` vs ``逐步解答:``)
and doubles a space in ru (``Пошаговое решение:`` vs ``Пошаговоерешение:``); we strip the
exemplar's own prefix. Stops: ``[QUESTION, "</s>", "<|im_end|>"]`` as the generated YAMLs.
Metrics: ``exact_match_strict`` (the language's "The answer is N" regex, first match) and
``exact_match_flexible`` (lm-eval's ``(-?[$0-9.,]{2,})|(-?[0-9]+)``, last match), compared after
``normalize_number``.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import NamedTuple

from nativejobs.benchmarks._files import (
    bad_file,
    csv_rows,
    first_n,
    read_json,
    read_text,
    require_dev,
    require_shots,
)
from nativejobs.benchmarks._scoring import check_same_length, cut_at_stop, summarize
from nativejobs.benchmarks._types import GenerationItem, ScoredBenchmark
from nativejobs.errors import StepInputError

__all__ = [
    "CUES",
    "METRICS",
    "extract_flexible",
    "extract_strict",
    "load",
    "normalize_number",
    "score",
]


class Cues(NamedTuple):
    """A language's prompt cues and answer regex.

    Attributes:
        question: lm-eval's QUESTION cue, put before a test question and used as a stop.
        answer: lm-eval's native-CoT ANSWER cue.
        strict: lm-eval's strict-match regex; group 1 is the number.
        question_prefixes: Prefixes an exemplar ``q`` may start with.
        answer_prefixes: Prefixes an exemplar ``a`` may start with (stripped from the CoT).
    """

    question: str
    answer: str
    strict: re.Pattern[str]
    question_prefixes: tuple[str, ...]
    answer_prefixes: tuple[str, ...]


CUES: dict[str, Cues] = {
    "en": Cues(
        "Question:",
        "Step-by-Step Answer:",
        re.compile(r"The answer is (\-?[0-9\.\,]+)"),
        ("Question:",),
        ("Step-by-Step Answer:",),
    ),
    "es": Cues(
        "Pregunta:",
        "Respuesta paso a paso:",
        re.compile(r"La respuesta es (\-?[0-9\.\,]+)"),
        ("Pregunta:",),
        ("Respuesta paso a paso:",),
    ),
    "ru": Cues(
        "Задача:",
        "Пошаговоерешение:",
        re.compile(r"Ответ — (\-?[0-9\.\,]+)"),
        ("Задача:",),
        ("Пошаговое решение:", "Пошаговоерешение:"),
    ),
    "zh": Cues(
        "问题：",
        "逐步解答:",
        re.compile(r"答案是 (\-?[0-9\.\,]+)。"),
        ("问题：", "问题:"),
        ("逐步解答：", "逐步解答:"),
    ),
}
METRICS = ("exact_match_strict", "exact_match_flexible")
_FLEXIBLE = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")
_EXTRA_STOPS = ("</s>", "<|im_end|>")
_MAX_NEW_TOKENS = 256


def load(
    *, path: str, language: str, shots: int, limit: int | None, dev_path: str | None
) -> list[GenerationItem]:
    """Build one few-shot CoT generation item per MGSM problem.

    Args:
        path: MGSM test TSV (question, answer), no header.
        language: One of ``CUES``.
        shots: Number of exemplars from ``dev_path`` (the paper uses 5).
        limit: Keep only the first ``limit`` problems, in file order.
        dev_path: Exemplar JSON list; needed when ``shots`` > 0.

    Returns:
        The items, in file order; ``golds`` holds the answer as written in the file.

    Raises:
        StepInputError: If the language is unsupported, or a file is missing or malformed.
    """
    cues = _cues(language)
    exemplar_path = require_dev("math_cot", shots, dev_path)
    blocks = [] if exemplar_path is None else _exemplar_blocks(exemplar_path, cues, shots)
    stem = Path(path).stem
    return [
        GenerationItem(
            id=f"{stem}-{i}",
            prompt="\n\n".join([*blocks, f"{cues.question} {question}\n{cues.answer}"]),
            golds=(answer,),
            stop=(cues.question, *_EXTRA_STOPS),
            max_new_tokens=_MAX_NEW_TOKENS,
            language=language,
        )
        for i, (question, answer) in enumerate(first_n(_read_problems(path), limit))
    ]


def score(items: list[GenerationItem], outputs: list[str]) -> ScoredBenchmark:
    """Score CoT completions by strict and flexible answer extraction.

    Args:
        items: Items from ``load``.
        outputs: One raw completion per item, in the same order.

    Returns:
        Means of ``METRICS`` and one record per item (with both extracted answers).

    Raises:
        StepInputError: If an item's language is unsupported.
        ValueError: If the counts differ or there are no items.
    """
    check_same_length(items, outputs, "outputs")
    records = [_score_one(item, output) for item, output in zip(items, outputs, strict=True)]
    return summarize(records, METRICS)


def extract_strict(completion: str, language: str) -> str | None:
    """Return the number after the language's "The answer is" phrase (first match), or None."""
    match = _cues(language).strict.search(completion)
    return None if match is None else match.group(1).strip()


def extract_flexible(completion: str) -> str | None:
    """Return the last number-like span (lm-eval's flexible-extract), or None."""
    matches = list(_FLEXIBLE.finditer(completion))
    if not matches:
        return None
    return next(group for group in matches[-1].groups("") if group).strip()


def normalize_number(text: str) -> str:
    """Canonical digits of a number: ``"1,000"``, ``"1.000"``, ``"$1000."``, ``"1000.00"`` -> 1000.

    Trailing periods and a decimal part of one or two zeros are dropped, then every
    non-digit (thousands separators, currency) is removed; a leading minus is kept.
    lm-eval instead strips ASCII punctuation only, so its ``"12.00"`` becomes ``"1200"``.
    """
    text = text.strip().rstrip(".。")
    # One or two trailing zeros are decimals; a thousands group always has three digits.
    text = re.sub(r"[.,]0{1,2}$", "", text)
    digits = re.sub(r"[^0-9]", "", text)
    return f"-{digits}" if digits and text.startswith("-") else digits


def _is_correct(extracted: str | None, golds: tuple[str, ...]) -> float:
    if extracted is None:
        return 0.0
    value = normalize_number(extracted)
    return float(bool(value) and any(value == normalize_number(g) for g in golds))


def _score_one(item: GenerationItem, output: str) -> dict[str, object]:
    prediction = cut_at_stop(output, item.stop)
    strict = extract_strict(prediction, item.language)
    flexible = extract_flexible(prediction)
    return {
        "id": item.id,
        "prompt": item.prompt,
        "prediction": prediction,
        "golds": list(item.golds),
        "extracted_strict": strict,
        "extracted_flexible": flexible,
        "exact_match_strict": _is_correct(strict, item.golds),
        "exact_match_flexible": _is_correct(flexible, item.golds),
    }


def _cues(language: str) -> Cues:
    if language not in CUES:
        raise StepInputError(
            f"math_cot has no prompt for language {language!r}; "
            f"use one of {', '.join(sorted(CUES))}"
        )
    return CUES[language]


def _read_problems(path: str) -> list[tuple[str, str]]:
    reader = csv.reader(io.StringIO(read_text(path)), delimiter="\t", quoting=csv.QUOTE_NONE)
    problems = []
    for row in csv_rows(path, reader):
        if not row:
            continue  # a blank line holds no problem
        if len(row) != 2:
            raise bad_file(
                path,
                f"line {reader.line_num} has {len(row)} tab-separated fields, not 2",
                "each line must be: question<TAB>numeric answer",
            )
        if not normalize_number(row[1]):
            raise bad_file(
                path,
                f"line {reader.line_num} has answer {row[1]!r}, not a number",
                "put the numeric answer in the second column",
            )
        problems.append((row[0], row[1]))
    if not problems:
        raise bad_file(path, "holds no problems", "give a non-empty MGSM TSV")
    return problems


def _exemplar_blocks(path: str, cues: Cues, shots: int) -> list[str]:
    exemplars = read_json(path)
    if not isinstance(exemplars, list):
        raise bad_file(path, "is not a JSON list", 'give a list of {"q": ..., "a": ...} objects')
    require_shots(shots, len(exemplars), path)
    return [_exemplar_block(path, i, e, cues) for i, e in enumerate(exemplars[:shots])]


def _exemplar_block(path: str, index: int, exemplar: object, cues: Cues) -> str:
    q = exemplar.get("q") if isinstance(exemplar, dict) else None
    a = exemplar.get("a") if isinstance(exemplar, dict) else None
    if not isinstance(q, str) or not isinstance(a, str):
        raise bad_file(path, f"exemplar [{index}] lacks string 'q' and 'a'", "add both fields")
    if not q.startswith(cues.question_prefixes):
        raise bad_file(
            path,
            f"exemplar [{index}] q {q[:30]!r}... does not start with {cues.question!r}",
            "use exemplars whose questions keep their language prefix (url-nlp exemplars.py)",
        )
    prefix = next((p for p in cues.answer_prefixes if a.startswith(p)), None)
    if prefix is None:
        raise bad_file(
            path,
            f"exemplar [{index}] a {a[:30]!r}... does not start with {cues.answer!r}",
            "use exemplars whose answers keep their language prefix (url-nlp exemplars.py)",
        )
    return f"{q}\n{cues.answer} {a[len(prefix) :].lstrip()}"
