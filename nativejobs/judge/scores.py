"""Verdicts → result records and per-item rows (the DESIGN.md result-record contract).

Per benchmark and judge ``<name>``, two records:

- ``judge_<name>_total``: the paper's score, the sum of the 1–5 ratings over the questions
  (50 questions: 50–250). When some verdicts stayed unparsable, the mean over the rated ones
  times the number of questions, so one judge failure does not count as a bad answer; the
  record's ``unparsable`` says how many, and ``n`` is the number of rated questions.
- ``judge_<name>_mean``: the mean rating over the rated questions (1–5).

Per-item rows hold, beside the question, answer, rating and rationale, each item's value of
both metrics: the rating for the mean, and the rating times the number of questions for the
total, so the mean over any resample of items is that resample's total and the report's paired
bootstrap (mean of per-item differences) gives the interval of the total's difference.
Unparsable items have neither value and drop out of the pairing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nativejobs.judge.grading import Verdict

__all__ = ["JudgeScores", "mean_metric", "score_verdicts", "total_metric"]


def total_metric(judge: str) -> str:
    return f"judge_{judge}_total"


def mean_metric(judge: str) -> str:
    return f"judge_{judge}_mean"


@dataclass(frozen=True)
class JudgeScores:
    """One judge's scores of one benchmark's answers."""

    questions: int
    rated: int
    unparsable: int
    mean: float | None
    total: float | None
    items: list[dict[str, Any]]

    def records(self, judge: str, benchmark: str, language: str) -> list[dict[str, Any]]:
        """The result records (none when no verdict could be read: there is no score)."""
        if self.mean is None or self.total is None:
            return []
        base = {"benchmark": benchmark, "kind": "open_qa", "judge": judge, "n": self.rated,
                "questions": self.questions, "unparsable": self.unparsable, "language": language}
        return [{**base, "metric": total_metric(judge), "score": self.total},
                {**base, "metric": mean_metric(judge), "score": self.mean}]


def score_verdicts(judge: str, answers: Sequence[dict[str, Any]],
                   verdicts: Sequence[Verdict]) -> JudgeScores:
    """Scores and per-item rows of ``verdicts`` on ``answers`` (evaluate's prediction rows)."""
    if len(answers) != len(verdicts):
        raise ValueError(f"{len(answers)} answers but {len(verdicts)} verdicts")
    n = len(answers)
    ratings = [v.rating for v in verdicts if v.rating is not None]
    mean = sum(ratings) / len(ratings) if ratings else None
    items = [{"id": a["id"], "question": a["question"], "answer": a["prediction"], "judge": judge,
              "rating": v.rating, "status": v.status, "attempts": v.attempts,
              "rationale": v.rationale, "verdicts": list(v.replies),
              mean_metric(judge): v.rating, total_metric(judge): None if v.rating is None else v.rating * n}
             for a, v in zip(answers, verdicts, strict=True)]
    return JudgeScores(questions=n, rated=len(ratings), unparsable=n - len(ratings), mean=mean,
                       total=None if mean is None else mean * n, items=items)
