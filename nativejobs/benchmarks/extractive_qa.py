r"""Extractive QA (XQuAD; any SQuAD v1.1-format JSON), generated 0-shot as lm-eval's ``xquad``.

Prompts are lm-eval's ``lm_eval/tasks/xquad/xquad_{lang}.yaml`` ``doc_to_text``; generation stops
at ``"\n"`` (``xquad_common_yaml``). Metrics: SQuAD v1.1 ``exact_match`` and ``f1``, the paper's
``include``, and ``f1_mlqa`` (MLQA normalisation; per-character tokens for Chinese), each the
max over gold answers. lm-eval scores only the first gold; XQuAD has one gold per question.
With ``shots`` > 0 the first ``shots`` questions of ``dev_path`` (same format) are prepended,
each followed by ``" "`` + its first gold answer and ``"\n\n"`` (lm-eval's default delimiters).
"""

from __future__ import annotations

from typing import NamedTuple

from nativejobs.benchmarks import metrics
from nativejobs.benchmarks._files import bad_file, first_n, read_json, require_dev, require_shots
from nativejobs.benchmarks._scoring import check_same_length, cut_at_stop, summarize
from nativejobs.benchmarks._types import GenerationItem, ScoredBenchmark
from nativejobs.errors import StepInputError

__all__ = ["METRICS", "PROMPTS", "load", "score"]

PROMPTS: dict[str, str] = {
    "en": "Context: {context}\n\nQuestion: {question}\n\nAnswer:",
    "es": "Contexto: {context}\n\nPregunta: {question}\n\nRespuesta:",
    "ru": "Контекст: {context}\n\nВопрос: {question}\n\nОтвет:",
    "zh": "语境: {context}\n\n问题: {question}\n\n回答:",
}
METRICS = ("exact_match", "f1", "include", "f1_mlqa")
_STOP = ("\n",)
_MAX_NEW_TOKENS = 32


class _Question(NamedTuple):
    id: str
    context: str
    question: str
    answers: tuple[str, ...]


def load(
    *, path: str, language: str, shots: int, limit: int | None, dev_path: str | None
) -> list[GenerationItem]:
    """Build one generation item per question of a SQuAD-format file.

    Args:
        path: The SQuAD v1.1-format JSON (e.g. ``xquad.es.json``).
        language: One of ``PROMPTS``.
        shots: Number of solved questions from ``dev_path`` to prepend (XQuAD uses 0).
        limit: Keep only the first ``limit`` questions, in file order.
        dev_path: SQuAD-format file with the few-shot questions; needed when ``shots`` > 0.

    Returns:
        The items, in file order.

    Raises:
        StepInputError: If the language has no prompt, or a file is missing or malformed.
    """
    template = _template(language)
    demo_path = require_dev("extractive_qa", shots, dev_path)
    prefix = ""
    if demo_path is not None:
        demos = _read_questions(demo_path)
        require_shots(shots, len(demos), demo_path)
        prefix = "".join(f"{_render(template, d)} {d.answers[0]}\n\n" for d in demos[:shots])
    return [
        GenerationItem(
            id=q.id,
            prompt=prefix + _render(template, q),
            golds=q.answers,
            stop=_STOP,
            max_new_tokens=_MAX_NEW_TOKENS,
            language=language,
        )
        for q in first_n(_read_questions(path), limit)
    ]


def score(items: list[GenerationItem], outputs: list[str]) -> ScoredBenchmark:
    """Score completions with EM, F1, include and MLQA-style F1.

    Args:
        items: Items from ``load``.
        outputs: One raw completion per item, in the same order.

    Returns:
        Means of ``METRICS`` and one record per item.

    Raises:
        ValueError: If the counts differ or there are no items.
    """
    check_same_length(items, outputs, "outputs")
    records = [_score_one(item, output) for item, output in zip(items, outputs, strict=True)]
    return summarize(records, METRICS)


def _score_one(item: GenerationItem, output: str) -> dict[str, object]:
    prediction = cut_at_stop(output, item.stop)

    def mlqa(p: str, g: str) -> float:
        return metrics.mlqa_f1(p, g, item.language)

    return {
        "id": item.id,
        "prompt": item.prompt,
        "prediction": prediction,
        "golds": list(item.golds),
        "exact_match": metrics.max_over_golds(metrics.squad_exact_match, prediction, item.golds),
        "f1": metrics.max_over_golds(metrics.squad_f1, prediction, item.golds),
        "include": metrics.max_over_golds(metrics.include, prediction, item.golds),
        "f1_mlqa": metrics.max_over_golds(mlqa, prediction, item.golds),
    }


def _template(language: str) -> str:
    if language not in PROMPTS:
        raise StepInputError(
            f"extractive_qa has no prompt for language {language!r}; "
            f"use one of {', '.join(sorted(PROMPTS))}"
        )
    return PROMPTS[language]


def _render(template: str, question: _Question) -> str:
    return template.format(context=question.context, question=question.question)


def _read_questions(path: str) -> list[_Question]:
    doc = read_json(path)
    articles = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(articles, list):
        raise bad_file(path, "no top-level 'data' list", "give a SQuAD v1.1-format JSON file")
    questions = [
        q
        for a, article in enumerate(articles)
        for p, paragraph in enumerate(_list(path, article, "paragraphs", f"data[{a}]"))
        for q in _paragraph_questions(path, paragraph, f"data[{a}].paragraphs[{p}]")
    ]
    if not questions:
        raise bad_file(path, "holds no questions", "give a non-empty SQuAD-format file")
    return questions


def _paragraph_questions(path: str, paragraph: object, where: str) -> list[_Question]:
    context = _str(path, paragraph, "context", where)
    questions = []
    for i, qa in enumerate(_list(path, paragraph, "qas", where)):
        at = f"{where}.qas[{i}]"
        answers = _list(path, qa, "answers", at)
        golds = tuple(_str(path, a, "text", f"{at}.answers[{j}]") for j, a in enumerate(answers))
        if not golds:
            raise bad_file(path, f"{at}.answers is empty", "every question needs a gold answer")
        qid, text = _str(path, qa, "id", at), _str(path, qa, "question", at)
        questions.append(_Question(qid, context, text, golds))
    return questions


def _list(path: str, obj: object, key: str, where: str) -> list[object]:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, list):
        raise bad_file(path, f"{where}.{key} is missing or not a list", "use SQuAD v1.1 format")
    return value


def _str(path: str, obj: object, key: str, where: str) -> str:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, str):
        raise bad_file(path, f"{where}.{key} is missing or not a string", "use SQuAD v1.1 format")
    return value
