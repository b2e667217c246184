"""grade (retries with a nudge, then unparsable), score_verdicts and the verdict cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from nativejobs.judge import Verdict, VerdictCache, grade, score_verdicts
from nativejobs.store import FileStore
from tests.unit.judge.helpers import ScriptedJudge, by_answer

PAIRS = [("q1", "answer A"), ("q2", "answer B"), ("q3", "answer C")]
SCRIPT = {
    "answer A": ["Clear and correct. Rating: [[5]]"],  # rated at once
    "answer B": ["Vague.", "Rating: [[2]]"],  # the nudge gets the rating
    "answer C": ["no idea", "still none", "[[9]]", "[[3]]"],  # never readable in 3 tries
}


def test_grade_retries_unparsable_verdicts_then_records_them() -> None:
    judge = ScriptedJudge(by_answer(SCRIPT))

    a, b, c = grade(judge, PAIRS, tries=3)

    assert (a.rating, a.attempts, a.status, a.rationale) == (5, 1, "rated", SCRIPT["answer A"][0])
    assert (b.rating, b.attempts, b.replies) == (2, 2, ("Vague.", "Rating: [[2]]"))
    assert (c.rating, c.attempts, c.status) == (None, 3, "unparsable")
    assert c.replies == ("no idea", "still none", "[[9]]")  # every raw reply kept
    assert c.rationale == "[[9]]"
    assert judge.batches == [3, 2, 1]  # only the unparsable ones are asked again


def test_one_try_means_no_retry() -> None:
    (b,) = grade(ScriptedJudge(by_answer(SCRIPT)), [PAIRS[1]], tries=1)

    assert (b.rating, b.attempts) == (None, 1)


def test_grade_checks_its_arguments_and_the_judges_answer() -> None:
    with pytest.raises(ValueError, match="tries is 0"):
        grade(ScriptedJudge(by_answer(SCRIPT)), PAIRS, tries=0)

    class Short(ScriptedJudge):
        def complete(self, conversations):  # type: ignore[no-untyped-def]
            return super().complete(conversations)[:-1]

    with pytest.raises(ValueError, match="answered 2 of 3"):
        grade(Short(by_answer(SCRIPT)), PAIRS, tries=1)


ANSWERS = [{"id": f"q{i}", "question": f"question {i}", "prediction": f"answer {i}"} for i in range(4)]


def test_scores_sum_ratings_and_keep_per_item_values_for_pairing() -> None:
    verdicts = [Verdict(5, ("[[5]]",)), Verdict(3, ("x", "[[3]]")), Verdict(4, ("[[4]]",)),
                Verdict(1, ("[[1]]",))]

    scores = score_verdicts("gpt4", ANSWERS, verdicts)

    assert (scores.total, scores.mean, scores.rated, scores.unparsable) == (13, 3.25, 4, 0)
    total, mean = scores.records("gpt4", "oqa", "es")
    assert total == {"benchmark": "oqa", "kind": "open_qa", "judge": "gpt4", "metric": "judge_gpt4_total",
                     "score": 13, "n": 4, "questions": 4, "unparsable": 0, "language": "es"}
    assert (mean["metric"], mean["score"]) == ("judge_gpt4_mean", 3.25)
    item = scores.items[1]
    assert item | {"verdicts": None} == {
        "id": "q1", "question": "question 1", "answer": "answer 1", "judge": "gpt4", "rating": 3,
        "status": "rated", "attempts": 2, "rationale": "[[3]]", "verdicts": None,
        "judge_gpt4_mean": 3, "judge_gpt4_total": 12}
    # The mean of the per-item totals is the total: a paired bootstrap of it is the total's CI.
    assert sum(i["judge_gpt4_total"] for i in scores.items) / 4 == scores.total


def test_unparsable_verdicts_drop_out_and_the_total_stays_on_the_questions_scale() -> None:
    verdicts = [Verdict(5, ("[[5]]",)), Verdict(None, ("?", "?", "?")), Verdict(4, ("[[4]]",)),
                Verdict(3, ("[[3]]",))]

    scores = score_verdicts("j", ANSWERS, verdicts)

    assert (scores.rated, scores.unparsable, scores.mean, scores.total) == (3, 1, 4.0, 16.0)
    total, _ = scores.records("j", "oqa", "es")
    assert (total["n"], total["questions"], total["unparsable"]) == (3, 4, 1)
    bad = scores.items[1]
    assert (bad["status"], bad["rating"], bad["judge_j_total"], bad["judge_j_mean"]) == (
        "unparsable", None, None, None)
    assert bad["verdicts"] == ["?", "?", "?"] and bad["attempts"] == 3


def test_no_readable_verdict_gives_no_score_record() -> None:
    scores = score_verdicts("j", ANSWERS[:1], [Verdict(None, ("?",))])

    assert scores.records("j", "oqa", "es") == [] and scores.total is None


def test_verdict_cache_survives_a_new_instance_and_separates_identities(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "store")
    ident = {"kind": "openai", "model": "m", "prompt_version": 1}
    cache = VerdictCache(store, ident)
    cache.put([(("q", "a"), Verdict(4, ("ok [[4]]",))), (("q", "b"), Verdict(None, ("?",)))])

    again = VerdictCache(store, ident)

    assert again.get("q", "a") == Verdict(4, ("ok [[4]]",))
    assert again.get("q", "b") == Verdict(None, ("?",)) and len(again) == 2
    assert again.get("q", "c") is None
    assert VerdictCache(store, {**ident, "model": "other"}).get("q", "a") is None
    assert store.get_json(f"{cache.prefix}/identity.json") == {"judge": ident}
