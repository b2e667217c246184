"""The paper's summary views (mean ΔS and counts, per-model language means and r over them,
machine- vs human-translated MMLU) and the analysis as JSON, on hand-made records."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pytest

from nativejobs.report import ReportInputError, analyze, import_report, render_markdown, report_text
from tests.unit.builders import record
from tests.unit.report.test_round_trip_pairs import KINDS, PAIRS, rtt_study

# ΔS = native − mean(google, cohere) per point of rtt_study():
#   m1 es 0.15, zh 0.15 · m2 es 0.125, zh 0.125 · m3 es 0.00 (a tie), zh −0.01
DELTAS = {("m1", "es"): 0.15, ("m1", "zh"): 0.15, ("m2", "es"): 0.125, ("m2", "zh"): 0.125,
          ("m3", "es"): 0.0, ("m3", "zh"): -0.01}
NATIVE = {("m1", "es"): 0.60, ("m1", "zh"): 0.70, ("m2", "es"): 0.50, ("m2", "zh"): 0.55,
          ("m3", "es"): 0.30, ("m3", "zh"): 0.40}


def test_mean_delta_and_how_many_models_and_points_gain() -> None:
    (summary,) = analyze(rtt_study(), KINDS).delta_summary

    assert (summary.benchmark, summary.metric, summary.arm) == ("qa", "f1", "a1")
    assert summary.mean_delta == pytest.approx(0.54 / 6)
    assert (summary.points_positive, summary.points) == (4, 6)  # m3's tie and loss are not gains
    assert (summary.models_positive, summary.models) == (2, 3)  # m3's mean is −0.005


def test_summary_is_per_arm() -> None:
    records = rtt_study() + [{**r, "arm": "a2", "score": 0.5} for r in rtt_study()]

    rows = {s.arm: s for s in analyze(records, KINDS).delta_summary}

    assert rows["a2"].mean_delta == pytest.approx(0.0) and rows["a2"].models_positive == 0


def test_per_model_language_means_and_r_over_them() -> None:
    analysis = analyze(rtt_study(), KINDS)

    means = {m.model: m for m in analysis.model_means}
    assert means["m1"].languages == ("es", "zh")
    assert (means["m1"].native, means["m1"].delta) == (pytest.approx(0.65), pytest.approx(0.15))
    assert means["m3"].translated_mean == pytest.approx((0.30 + 0.41) / 2)
    (by_model,) = analysis.model_correlations
    expected = statistics.correlation([0.15, 0.125, -0.005], [0.65, 0.525, 0.35])
    assert (by_model.n, by_model.r) == (3, pytest.approx(expected))
    assert [p.language for p in by_model.points] == ["es+zh"] * 3
    (by_point,) = analysis.correlations
    assert by_point.n == 6
    assert by_point.r == pytest.approx(statistics.correlation(
        [DELTAS[k] for k in SCORES_ORDER], [NATIVE[k] for k in SCORES_ORDER]))


SCORES_ORDER = list(DELTAS)


def mmlu(benchmark: str, scores: dict[tuple[str, str], tuple[float, float, float]],
         **extra: Any) -> list[dict[str, Any]]:
    return [record(cond, s, model=model, language=lang, benchmark=benchmark, metric="acc", **extra)
            for (model, lang), triple in scores.items()
            for cond, s in zip(("native", "google", "cohere"), triple, strict=True)]


MT = {("m1", "es"): (0.40, 0.38, 0.36), ("m1", "ru"): (0.35, 0.35, 0.33)}
HT = {("m1", "es"): (0.42, 0.41, 0.39)}


@pytest.mark.parametrize(("mt_name", "ht_name", "extra"), [
    ("mt-mmlu", "ht-mmlu", ({}, {})),
    ("okapi", "openai", ({"kind": "okapi_mmlu"}, {"kind": "mmmlu"})),
], ids=["by-name", "by-kind"])
def test_machine_vs_human_translated_mmlu_side_by_side(mt_name: str, ht_name: str,
                                                       extra: tuple[dict[str, str], ...]) -> None:
    records = mmlu(mt_name, MT, **extra[0]) + mmlu(ht_name, HT, **extra[1]) + rtt_study()

    rows = {r.language: r for r in analyze(records, KINDS).mt_vs_ht}

    assert sorted(rows) == ["es", "ru"]
    es = rows["es"]
    assert (es.mt_benchmark, es.ht_benchmark, es.metric) == (mt_name, ht_name, "acc")
    assert es.mt == {"native": 0.40, "google": 0.38, "cohere": 0.36}
    assert (es.mt_delta, es.ht_delta) == (pytest.approx(0.03), pytest.approx(0.02))
    assert (rows["ru"].ht, rows["ru"].ht_delta) == ({}, None)  # MMMLU has no Russian


def test_mt_ht_table_in_markdown() -> None:
    records = mmlu("mt-mmlu", MT) + mmlu("ht-mmlu", HT)

    text = render_markdown(analyze(records, KINDS), records)

    assert "## Machine- vs human-translated MMLU" in text
    assert ("| model | arm | language | metric | native MT | native HT | google MT | google HT | "
            "cohere MT | cohere HT | ΔS MT | ΔS HT |") in text
    assert "| m1 | a1 | es | acc | 0.400 | 0.420 | 0.380 | 0.410 | 0.360 | 0.390 | +0.030 | +0.020 |" in text


def test_no_mmlu_pair_no_section() -> None:
    analysis = analyze(rtt_study(), KINDS)

    assert analysis.mt_vs_ht == ()
    assert "Machine- vs human-translated" not in render_markdown(analysis, rtt_study())


def test_summary_tables_in_markdown() -> None:
    text = render_markdown(analyze(rtt_study(), KINDS, pairs=PAIRS), rtt_study())

    assert "| qa | f1 | a1 | +0.090 | 2 of 3 | 4 of 6 |" in text
    assert "| m1 | a1 | qa | f1 | es+zh | 0.650 | 0.500 | +0.150 |" in text
    assert "| a1 | qa | f1 | google-rtt | google | +0.005 | 2 of 3 | 3 of 6 |" in text


# -- the analysis as JSON --------------------------------------------------------------------------
def test_analysis_json_holds_cells_r_pairs_and_summaries() -> None:
    doc = json.loads(report_text(rtt_study(), KINDS, "json", what="analysis", pairs=PAIRS))

    assert doc["format_version"] == 2 and doc["pairs"] == PAIRS
    assert len(doc["gaps"]) == 6 and doc["gaps"][0]["paired"]["ci"].startswith("unavailable")
    assert doc["correlations"][0]["n"] == 6 and doc["model_correlations"][0]["n"] == 3
    google = next(s for s in doc["round_trip_summary"] if s["condition"] == "google-rtt")
    assert (google["models_improved"], google["models"]) == (2, 3)
    assert doc["delta_summary"][0]["points_positive"] == 4
    assert doc["completeness"] == [] and doc["coverage"][0]["conditions"]["cohere-rtt"] == 6


def test_the_flat_records_stay_the_default_json() -> None:
    assert json.loads(report_text(rtt_study(), KINDS, "json")) == rtt_study()


@pytest.mark.parametrize("fmt", ["md", "csv", "html"])
def test_analysis_is_json_only(fmt: str) -> None:
    with pytest.raises(ReportInputError, match=f"--what analysis is JSON; use --format json "
                                               f"\\(got {fmt};"):
        report_text(rtt_study(), KINDS, fmt, what="analysis")


def test_imported_pair_column_pairs_and_explicit_pairs_win(tmp_path: Path) -> None:
    rows = [{**r, "condition_kind": KINDS[r["condition"]],
             "pair": {"google-rtt": "google", "cohere-rtt": "google"}.get(r["condition"], "")}
            for r in rtt_study()]
    path = tmp_path / "paper.json"
    path.write_text(json.dumps(rows), encoding="utf-8")

    from_column = json.loads(import_report([path], "json", what="analysis"))
    explicit = json.loads(import_report([path], "json", what="analysis",
                                        pairs={"cohere-rtt": "cohere"}))

    assert from_column["pairs"] == {"google-rtt": "google", "cohere-rtt": "google"}
    assert explicit["pairs"] == PAIRS
