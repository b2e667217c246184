"""The analysis on hand-computed tables: ΔS, r(ΔS, S_native), CIs, McNemar, RTT, arms.

Every expected number below is worked by hand from the builders' tables, not by the code.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from nativejobs.report import ReportInputError, analyze, gaps
from tests.unit.builders import record
from tests.unit.report.builders import KINDS, MC, NOISY, study


def hand_table() -> list[dict[str, Any]]:
    """Records only. qa/f1: ΔS es 0.1, ru 0.1, zh 0.3 against S_native 0.6, 0.5, 0.8.
    mc/accuracy: S_native is 0.5 everywhere, so r is undefined."""
    rows = []
    for lang, native, cohere, google, rtt in [("es", 0.6, 0.4, 0.6, 0.7), ("ru", 0.5, 0.5, 0.3, 0.45),
                                              ("zh", 0.8, 0.5, 0.5, 0.5)]:
        for cond, score in [("native", native), ("cohere", cohere), ("google", google), ("rtt", rtt)]:
            rows.append(record(cond, score, language=lang))
            rows.append(record(cond, {"native": 0.5}.get(cond, 0.4), language=lang,
                               benchmark="mc", metric="accuracy"))
    return rows


# -- ΔS and r on records alone -------------------------------------------------------------------
def test_delta_is_native_minus_mean_of_translated() -> None:
    analysis = analyze(hand_table(), KINDS)

    qa = {g.language: g for g in analysis.gaps if g.benchmark == "qa"}
    assert {k: g.delta for k, g in qa.items()} == pytest.approx({"es": 0.1, "ru": 0.1, "zh": 0.3})
    assert qa["es"].translated_mean == pytest.approx(0.5)  # (0.4 + 0.6) / 2; rtt's 0.7 left out
    assert qa["es"].reference == ("cohere", "google")
    assert analysis.reference == ("cohere", "google")


def test_reference_set_is_configurable() -> None:
    analysis = analyze(hand_table(), KINDS, reference=["cohere"])

    qa = {g.language: g.delta for g in analysis.gaps if g.benchmark == "qa"}
    assert qa == pytest.approx({"es": 0.2, "ru": 0.0, "zh": 0.3})


@pytest.mark.parametrize(("reference", "match"), [
    (["deepl"], "deepl are not conditions of this study"),
    (["native"], "'native' is native"),
])
def test_bad_reference_is_named(reference: list[str], match: str) -> None:
    with pytest.raises(ReportInputError, match=match):
        analyze(hand_table(), KINDS, reference=reference)


def test_r_per_benchmark_is_hand_computed() -> None:
    analysis = analyze(hand_table(), KINDS)

    corr = {(c.benchmark, c.metric): c for c in analysis.correlations}
    qa = corr["qa", "f1"]
    # ΔS (0.1, 0.1, 0.3) against S_native (0.6, 0.5, 0.8): r = 5/sqrt(28); 1 dof: p from Cauchy.
    assert (qa.arm, qa.n) == ("a1", 3)
    assert qa.r == pytest.approx(5 / math.sqrt(28))
    assert qa.p == pytest.approx(1 - 2 / math.pi * math.atan(5 / math.sqrt(3)))
    assert [(p.language, p.native) for p in qa.points] == [("es", 0.6), ("ru", 0.5), ("zh", 0.8)]
    mc = corr["mc", "accuracy"]
    assert (mc.r, mc.p, mc.n) == (None, None, 3)  # S_native is constant


def test_r_is_per_arm() -> None:
    records = hand_table() + [{**r, "arm": "a2"} for r in hand_table() if r["language"] != "zh"]

    corr = {(c.arm, c.benchmark): c.n for c in analyze(records, KINDS).correlations}

    assert corr == {("a1", "qa"): 3, ("a1", "mc"): 3, ("a2", "qa"): 2, ("a2", "mc"): 2}


def test_without_items_cis_are_unavailable_not_made_up() -> None:
    analysis = analyze(hand_table(), KINDS)

    assert not analysis.has_items
    for g in analysis.gaps:
        assert (g.paired.ci_low, g.paired.ci_high, g.paired.inside_noise) == (None, None, None)
        assert g.paired.ci.startswith("unavailable")
        assert g.paired.mcnemar == ()


def test_gaps_keep_the_legacy_fields() -> None:
    (gap,) = gaps([record("native", 0.5), record("google", 0.4)], KINDS)

    assert gap["native_condition"] == "native" and gap["reference"] == ["google"]
    assert gap["delta"] == pytest.approx(0.1)


# -- paired statistics from per-item results -----------------------------------------------------
def item_study(repeat: int = 10) -> tuple[list[dict[str, Any]], dict[Any, Any]]:
    return study({("m1", "a1", "es", "mc"): {"accuracy": MC},
                  ("m1", "a1", "ru", "mc"): {"accuracy": NOISY}}, repeat=repeat)


def test_clear_gap_is_significant_and_noisy_gap_is_not() -> None:
    records, items = item_study()

    analysis = analyze(records, KINDS, items=items, n_resamples=4000)

    by_lang = {g.language: g for g in analysis.gaps}
    es, ru = by_lang["es"], by_lang["ru"]
    assert es.delta == pytest.approx(0.3) and ru.delta == pytest.approx(0.0)
    assert es.paired.n_items == 100 and es.paired.ci == "paired bootstrap"
    # Per-item differences: 0 (60 items), 0.5 (20), 1 (20): sd 0.4, SE 0.04 → CI ≈ 0.3 ± 0.08.
    assert 0.2 < es.paired.ci_low < 0.25 and 0.35 < es.paired.ci_high < 0.4
    assert es.paired.inside_noise is False
    assert ru.paired.ci_low < 0 < ru.paired.ci_high and ru.paired.inside_noise is True


def test_mcnemar_per_reference_condition() -> None:
    records, items = item_study(repeat=1)

    es = next(g for g in analyze(records, KINDS, items=items).gaps if g.language == "es")

    tests = {t.condition: t for t in es.paired.mcnemar}
    # native-only items: 4–7 against cohere, 6–7 against google; none the other way round.
    assert (tests["cohere"].only_native, tests["cohere"].only_reference) == (4, 0)
    assert tests["cohere"].p == pytest.approx(2 / 2**4) and tests["cohere"].exact
    assert (tests["google"].only_native, tests["google"].only_reference) == (2, 0)
    assert tests["google"].p == pytest.approx(2 / 2**2)


def test_same_inputs_same_cis() -> None:
    records, items = item_study()

    first = analyze(records, KINDS, items=items, n_resamples=500, seed=3).to_json()

    assert analyze(records, KINDS, items=items, n_resamples=500, seed=3).to_json() == first


def test_items_align_by_id() -> None:
    records, items = item_study(repeat=1)
    es = ("m1", "a1", "es")
    # Shuffle one condition's rows and drop two items from another: pairs follow ids, not order.
    items[(*es, "cohere", "mc")] = list(reversed(items[(*es, "cohere", "mc")]))
    items[(*es, "google", "mc")] = items[(*es, "google", "mc")][:8]

    gap = next(g for g in analyze(records, KINDS, items=items).gaps if g.language == "es")

    assert gap.paired.n_items == 8
    assert {t.condition: t.only_native for t in gap.paired.mcnemar} == {"cohere": 4, "google": 2}


def test_missing_items_of_one_condition_say_which() -> None:
    records, items = item_study(repeat=1)
    del items["m1", "a1", "es", "google", "mc"]

    gap = next(g for g in analyze(records, KINDS, items=items).gaps if g.language == "es")

    assert gap.paired.ci == "unavailable: no per-item accuracy for google"
    assert gap.paired.inside_noise is None


def test_continuous_metric_has_a_ci_but_no_mcnemar() -> None:
    f1 = {c: [v * 0.9 for v in values] for c, values in MC.items()}
    records, items = study({("m1", "a1", "es", "qa"): {"f1": f1}}, repeat=5)

    (gap,) = analyze(records, KINDS, items=items, n_resamples=1000).gaps

    assert gap.paired.ci_low is not None and gap.paired.mcnemar == ()


# -- round trip and arms ---------------------------------------------------------------------------
def test_round_trip_against_single_pass() -> None:
    records, items = item_study(repeat=10)

    rows = {t.language: t for t in analyze(records, KINDS, items=items, n_resamples=1000).round_trip}

    es = rows["es"]
    assert (es.condition, es.round_trip, es.single_pass, es.native) == (
        "rtt", pytest.approx(0.5), pytest.approx(0.5), pytest.approx(0.8))
    assert es.delta == pytest.approx(0.0) and es.native_minus_round_trip == pytest.approx(0.3)
    assert es.paired.inside_noise is True


def test_round_trip_only_on_native_benchmarks() -> None:
    rows = analyze(hand_table(), KINDS, native_benchmarks=["mc"]).round_trip

    assert {t.benchmark for t in rows} == {"mc"}
    assert {t.language: t.delta for t in rows} == pytest.approx({"es": 0.0, "ru": 0.0, "zh": 0.0})


def test_arms_side_by_side() -> None:
    records = [record("native", 0.5), record("cohere", 0.3),
               record("native", 0.45, arm="a2"), record("cohere", 0.4, arm="a2")]

    analysis = analyze(records, KINDS)

    rows = {a.row: a.values for a in analysis.arm_rows}
    assert analysis.arms == ("a1", "a2")
    assert rows["native"] == {"a1": 0.5, "a2": 0.45}
    assert rows["ΔS"] == pytest.approx({"a1": 0.2, "a2": 0.05})
    assert [a.row for a in analysis.arm_rows] == ["native", "cohere", "ΔS"]


def test_one_arm_has_nothing_side_by_side() -> None:
    assert analyze(hand_table(), KINDS).arm_rows == ()


def test_analysis_json_is_plain_json() -> None:
    records, items = item_study(repeat=1)

    doc = analyze(records, KINDS, items=items, n_resamples=200).to_json()

    text = json.dumps(doc, allow_nan=False)  # no NaN sneaks in
    back = json.loads(text)
    assert back["format_version"] == 2
    assert set(back) >= {"gaps", "correlations", "round_trip", "arm_rows", "completeness",
                         "coverage", "pairs", "delta_summary", "model_means",
                         "model_correlations", "round_trip_summary", "mt_vs_ht"}
    assert back["gaps"][0]["paired"]["ci"] == "paired bootstrap"
