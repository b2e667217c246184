r"""Four-way multiple choice (CMMLU CSV format), scored by log-likelihood as lm-eval's ``cmmlu``.

File: CSV with header ``,Question,A,B,C,D,Answer`` (haonan-li/CMMLU ``data/{test,dev}/*.csv``);
the file stem is the subject. Prompt (lm-eval ``cmmlu/_default_template_yaml`` and
``_generate_configs.py``), for ``zh``::

    以下是关于{subject}的单项选择题，请直接给出正确答案的选项。\n\n
    {Question}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\n答案： {Answer}\n\n   (one per shot, first_n of dev)
    {Question}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\n答案：

Other languages use the same layout with the cue ``Answer:`` and no description, as lm-eval's
Okapi ``m_mmlu`` does. Continuations are ``target_delimiter`` + letter: ``" A"`` .. ``" D"``.
Metric: ``accuracy`` (argmax log-likelihood, first on ties, equals the gold).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import NamedTuple

from nativejobs.benchmarks._files import (
    bad_file,
    csv_rows,
    first_n,
    read_text,
    require_dev,
    require_shots,
)
from nativejobs.benchmarks._scoring import check_same_length, summarize
from nativejobs.benchmarks._types import ChoiceItem, ScoredBenchmark
from nativejobs.errors import StepInputError

__all__ = ["CHOICES", "METRICS", "SUBJECTS", "load", "score"]

CHOICES = (" A", " B", " C", " D")
METRICS = ("accuracy",)
_LETTERS = ("A", "B", "C", "D")
_COLUMNS = ("Question", *_LETTERS, "Answer")
_ZH_CUE = "答案："
_OTHER_CUE = "Answer:"
# lm-eval cmmlu/_generate_configs.py SUBJECTS: file stem -> Chinese name in the description.
SUBJECTS: dict[str, str] = {
    "agronomy": "农学",
    "anatomy": "解剖学",
    "ancient_chinese": "古汉语",
    "arts": "艺术学",
    "astronomy": "天文学",
    "business_ethics": "商业伦理",
    "chinese_civil_service_exam": "中国公务员考试",
    "chinese_driving_rule": "中国驾驶规则",
    "chinese_food_culture": "中国饮食文化",
    "chinese_foreign_policy": "中国外交政策",
    "chinese_history": "中国历史",
    "chinese_literature": "中国文学",
    "chinese_teacher_qualification": "中国教师资格",
    "clinical_knowledge": "临床知识",
    "college_actuarial_science": "大学精算学",
    "college_education": "大学教育学",
    "college_engineering_hydrology": "大学工程水文学",
    "college_law": "大学法律",
    "college_mathematics": "大学数学",
    "college_medical_statistics": "大学医学统计",
    "college_medicine": "大学医学",
    "computer_science": "计算机科学",
    "computer_security": "计算机安全",
    "conceptual_physics": "概念物理学",
    "construction_project_management": "建设工程管理",
    "economics": "经济学",
    "education": "教育学",
    "electrical_engineering": "电气工程",
    "elementary_chinese": "小学语文",
    "elementary_commonsense": "小学常识",
    "elementary_information_and_technology": "小学信息技术",
    "elementary_mathematics": "初等数学",
    "ethnology": "民族学",
    "food_science": "食品科学",
    "genetics": "遗传学",
    "global_facts": "全球事实",
    "high_school_biology": "高中生物",
    "high_school_chemistry": "高中化学",
    "high_school_geography": "高中地理",
    "high_school_mathematics": "高中数学",
    "high_school_physics": "高中物理学",
    "high_school_politics": "高中政治",
    "human_sexuality": "人类性行为",
    "international_law": "国际法学",
    "journalism": "新闻学",
    "jurisprudence": "法理学",
    "legal_and_moral_basis": "法律与道德基础",
    "logical": "逻辑学",
    "machine_learning": "机器学习",
    "management": "管理学",
    "marketing": "市场营销",
    "marxist_theory": "马克思主义理论",
    "modern_chinese": "现代汉语",
    "nutrition": "营养学",
    "philosophy": "哲学",
    "professional_accounting": "专业会计",
    "professional_law": "专业法学",
    "professional_medicine": "专业医学",
    "professional_psychology": "专业心理学",
    "public_relations": "公共关系",
    "security_study": "安全研究",
    "sociology": "社会学",
    "sports_science": "体育学",
    "traditional_chinese_medicine": "中医中药",
    "virology": "病毒学",
    "world_history": "世界历史",
    "world_religions": "世界宗教",
}


class _Question(NamedTuple):
    question: str
    options: tuple[str, str, str, str]
    answer: int


def load(
    *, path: str, language: str, shots: int, limit: int | None, dev_path: str | None
) -> list[ChoiceItem]:
    """Build one choice item per row of a CMMLU-format CSV.

    Args:
        path: Test CSV; its stem names the subject (e.g. ``agronomy.csv``).
        language: ``zh`` for CMMLU's Chinese layout; any other code uses ``Answer:``.
        shots: Number of solved dev rows to prepend (the paper uses 5).
        limit: Keep only the first ``limit`` rows, in file order.
        dev_path: Dev CSV of the same subject; needed when ``shots`` > 0.

    Returns:
        The items, in file order.

    Raises:
        StepInputError: If a file is missing or malformed, or a ``zh`` file's stem is not a
            CMMLU subject (the description needs its Chinese name).
    """
    subject = Path(path).stem
    cue = _ZH_CUE if language == "zh" else _OTHER_CUE
    prefix = _description(path, subject) if language == "zh" else ""
    shots_path = require_dev("multiple_choice", shots, dev_path)
    if shots_path is not None:
        demos = _read_questions(shots_path)
        require_shots(shots, len(demos), shots_path)
        prefix += "".join(f"{_render(d, cue)} {_LETTERS[d.answer]}\n\n" for d in demos[:shots])
    return [
        ChoiceItem(
            id=f"{subject}-{i}", context=prefix + _render(q, cue), choices=CHOICES, gold=q.answer
        )
        for i, q in enumerate(first_n(_read_questions(path), limit))
    ]


def score(items: list[ChoiceItem], loglikelihoods: list[list[float]]) -> ScoredBenchmark:
    """Score items by the arg-max log-likelihood continuation.

    Args:
        items: Items from ``load``.
        loglikelihoods: Per item, the log-likelihood of each of its ``choices``.

    Returns:
        Mean ``accuracy`` and one record per item.

    Raises:
        ValueError: If the counts differ, there are no items, or an item has the wrong
            number of log-likelihoods.
    """
    check_same_length(items, loglikelihoods, "log-likelihood lists")
    records = [_score_one(item, lls) for item, lls in zip(items, loglikelihoods, strict=True)]
    return summarize(records, METRICS)


def _score_one(item: ChoiceItem, lls: list[float]) -> dict[str, object]:
    if len(lls) != len(item.choices):
        raise ValueError(
            f"item {item.id}: {len(lls)} log-likelihoods for {len(item.choices)} choices"
        )
    predicted = max(range(len(lls)), key=lls.__getitem__)  # first index on ties, like argmax
    return {
        "id": item.id,
        "context": item.context,
        "prediction": item.choices[predicted],
        "golds": [item.choices[item.gold]],
        "loglikelihoods": list(lls),
        "accuracy": float(predicted == item.gold),
    }


def _description(path: str, subject: str) -> str:
    if subject not in SUBJECTS:
        raise StepInputError(
            f"benchmark file {path}: subject {subject!r} (the file name) is not a CMMLU "
            "subject, so the Chinese description cannot be built; name the file after its "
            "subject, e.g. agronomy.csv"
        )
    return f"以下是关于{SUBJECTS[subject]}的单项选择题，请直接给出正确答案的选项。\n\n"


def _render(q: _Question, cue: str) -> str:
    options = "".join(f"{x}. {text}\n" for x, text in zip(_LETTERS, q.options, strict=True))
    return f"{q.question.strip()}\n{options}{cue}"


def _read_questions(path: str) -> list[_Question]:
    reader = csv.DictReader(io.StringIO(read_text(path)))
    missing = [c for c in _COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise bad_file(
            path,
            f"header lacks column(s) {', '.join(missing)}",
            "the header must be ,Question,A,B,C,D,Answer (CMMLU format)",
        )
    questions = [_question(path, reader.line_num, row) for row in csv_rows(path, reader)]
    if not questions:
        raise bad_file(path, "holds no questions", "give a non-empty CMMLU-format CSV")
    return questions


def _question(path: str, line: int, row: dict[str | None, str | None]) -> _Question:
    if None in row or any(row[c] is None for c in _COLUMNS):
        raise bad_file(
            path,
            f"line {line} does not have one value per header column",
            "quote fields that contain commas",
        )
    answer = str(row["Answer"]).strip()
    if answer not in _LETTERS:
        raise bad_file(
            path, f"line {line} has Answer {answer!r}", "the answer must be one of A, B, C, D"
        )
    a, b, c, d = (str(row[letter]) for letter in _LETTERS)
    return _Question(str(row["Question"]), (a, b, c, d), _LETTERS.index(answer))
