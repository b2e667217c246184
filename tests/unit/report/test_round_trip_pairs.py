"""Round trip against the single pass of the same system: partners from the spec, the records'
``pair`` column or explicit pairs; per-system counts; the fallback mean says so.

Every expected number is worked by hand from ``rtt_study`` below.
"""

from __future__ import annotations

from typing import Any

import pytest

from nativejobs.report import (
    ReportInputError,
    analyze,
    check_pairs,
    pairs_from_conditions,
    pairs_from_records,
    render_markdown,
)
from tests.unit.builders import record

KINDS = {"native": "native", "google": "translated", "cohere": "translated",
         "google-rtt": "round_trip", "cohere-rtt": "round_trip"}
PAIRS = {"google-rtt": "google", "cohere-rtt": "cohere"}
# (model, language): native, google, cohere, google-rtt, cohere-rtt
SCORES = {
    ("m1", "es"): (0.60, 0.50, 0.40, 0.55, 0.38),
    ("m1", "zh"): (0.70, 0.60, 0.50, 0.62, 0.50),
    ("m2", "es"): (0.50, 0.45, 0.30, 0.40, 0.35),
    ("m2", "zh"): (0.55, 0.50, 0.35, 0.48, 0.36),
    ("m3", "es"): (0.30, 0.30, 0.30, 0.35, 0.20),
    ("m3", "zh"): (0.40, 0.40, 0.42, 0.38, 0.40),
}


def rtt_study(**extra: Any) -> list[dict[str, Any]]:
    return [record(cond, score, model=model, language=lang, **extra)
            for (model, lang), scores in SCORES.items()
            for cond, score in zip(KINDS, scores, strict=True)]


def test_each_round_trip_is_compared_with_its_own_system() -> None:
    rows = {(t.model, t.language, t.condition): t
            for t in analyze(rtt_study(), KINDS, pairs=PAIRS).round_trip}

    m1 = rows["m1", "es", "google-rtt"]
    assert (m1.single_pass_conditions, m1.is_paired) == (("google",), True)
    assert (m1.single_pass, m1.delta) == (pytest.approx(0.50), pytest.approx(0.05))
    assert rows["m1", "es", "cohere-rtt"].delta == pytest.approx(-0.02)  # 0.38 − cohere 0.40


def test_per_system_summary_counts_models_and_points_that_improve() -> None:
    summary = {s.condition: s for s in analyze(rtt_study(), KINDS, pairs=PAIRS).round_trip_summary}

    google = summary["google-rtt"]
    # RT − SP: m1 +0.05 +0.02, m2 −0.05 −0.02, m3 +0.05 −0.02 → model means +, −, +.
    assert (google.single_pass, google.is_paired) == ("google", True)
    assert (google.models_improved, google.models) == (2, 3)
    assert (google.points_improved, google.points) == (3, 6)
    assert google.mean_delta == pytest.approx(0.03 / 6)
    cohere = summary["cohere-rtt"]
    # m1 −0.02 +0.00 (a tie is no gain), m2 +0.05 +0.01, m3 −0.10 −0.02.
    assert (cohere.models_improved, cohere.points_improved) == (1, 2)
    assert cohere.mean_delta == pytest.approx(-0.08 / 6)


def test_without_a_partner_the_mean_is_used_and_the_report_says_so() -> None:
    analysis = analyze(rtt_study(), KINDS, pairs={"google-rtt": "google"})

    rows = {(t.model, t.language, t.condition): t for t in analysis.round_trip}
    cohere = rows["m1", "es", "cohere-rtt"]
    assert (cohere.is_paired, cohere.single_pass_conditions) == (False, ("google", "cohere"))
    assert cohere.delta == pytest.approx(0.38 - 0.45)
    summary = {s.condition: s.single_pass for s in analysis.round_trip_summary}
    assert summary == {"google-rtt": "google", "cohere-rtt": "mean of google, cohere"}
    text = render_markdown(analysis, rtt_study())
    assert "google-rtt vs google;" in text
    assert "cohere-rtt vs the mean of google and cohere (no single-pass partner known" in text
    assert "| mean of google, cohere (no partner) |" in text


def test_a_missing_partner_score_is_no_comparison_not_the_mean() -> None:
    records = [r for r in rtt_study() if not (r["condition"] == "google" and r["model"] == "m1")]

    rows = {(t.model, t.language, t.condition): t
            for t in analyze(records, KINDS, pairs=PAIRS).round_trip}

    m1 = rows["m1", "es", "google-rtt"]
    assert (m1.single_pass, m1.delta) == (None, None)
    assert m1.paired.ci == "unavailable: no google score"


def spec_condition(name: str, kind: str, **system: Any) -> dict[str, Any]:
    return {"name": name, "kind": kind, **system}


def test_spec_pairs_come_from_the_same_engine_or_source() -> None:
    google = {"kind": "released", "path": "aya", "system": "google"}
    cohere = {"kind": "released", "path": "aya", "system": "cohere"}
    conditions = [spec_condition("native", "native"),
                  spec_condition("google", "translated", source=google),
                  spec_condition("cohere", "translated", source=cohere),
                  spec_condition("nllb", "translated", engine="nllb"),
                  spec_condition("google-rtt", "round_trip", source=dict(google)),
                  spec_condition("cohere-rtt", "round_trip", source=cohere),
                  spec_condition("nllb-rtt", "round_trip", engine="nllb"),
                  spec_condition("deepl-rtt", "round_trip", engine="deepl")]

    assert pairs_from_conditions(conditions) == {"google-rtt": "google", "cohere-rtt": "cohere",
                                                 "nllb-rtt": "nllb"}


def test_two_translated_conditions_of_one_engine_give_no_partner() -> None:
    conditions = [spec_condition("a", "translated", engine="e"),
                  spec_condition("b", "translated", engine="e"),
                  spec_condition("rtt", "round_trip", engine="e")]

    assert pairs_from_conditions(conditions) == {}


def test_record_pairs_from_a_column() -> None:
    records = [record("google-rtt", 0.5, pair="google"), record("google-rtt", 0.4, pair=""),
               record("google", 0.3)]

    assert pairs_from_records(records) == {"google-rtt": "google"}
    with pytest.raises(ReportInputError, match="'google-rtt' names several pairs in the records: "
                                               "cohere, google; give it one"):
        pairs_from_records([*records, record("google-rtt", 0.4, pair="cohere")])


@pytest.mark.parametrize(("pairs", "message"), [
    ({"google": "cohere"}, "pair google=cohere: 'google' is not a round_trip condition; use one "
                           "of: google-rtt, cohere-rtt"),
    ({"google-rtt": "native"}, "pair google-rtt=native: 'native' is not a translated condition; "
                               "use one of: google, cohere"),
    ({"google-rtt": "deepl"}, "'deepl' is not a translated condition"),
], ids=["not-round-trip", "native-partner", "unknown-partner"])
def test_bad_pairs_are_named(pairs: dict[str, str], message: str) -> None:
    with pytest.raises(ReportInputError, match=message):
        check_pairs(pairs, KINDS)
