"""The figures: one legend per figure from every series drawn in any panel, and each condition
(arm, language) with one colour (mark) in every panel and every figure."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

import pytest

from nativejobs.report import analyze, make_plots
from nativejobs.report._svg import ticks
from tests.unit.report.test_round_trip_pairs import KINDS, PAIRS, rtt_study

SVG = "{http://www.w3.org/2000/svg}"


def legend(svg: bytes) -> dict[str, str]:
    """Legend entry name → its colour."""
    root = ElementTree.fromstring(svg)
    (box,) = [g for g in root.iter(f"{SVG}g") if g.get("class") == "legend"]
    out = {}
    for entry in (g for g in box.iter(f"{SVG}g") if g.get("class") == "entry"):
        mark, text = list(entry)
        out[text.text or ""] = mark.get("fill") or ""
    return out


def bar_colours(svg: bytes) -> dict[str, set[str]]:
    """Series name (from each bar's tooltip, "label · series: value") → the colours it is drawn in."""
    out: dict[str, set[str]] = {}
    for rect in ElementTree.fromstring(svg).iter(f"{SVG}rect"):
        tip = rect.find(f"{SVG}title")
        if tip is not None and " · " in (tip.text or ""):
            series = (tip.text or "").split(" · ", 1)[1].rsplit(": ", 1)[0]
            out.setdefault(series, set()).add(rect.get("fill") or "")
    return out


def two_benchmarks() -> list[dict[str, Any]]:
    """qa has every condition; mc (drawn first) has no round trip at all."""
    mc = [{**r, "benchmark": "mc", "metric": "acc"} for r in rtt_study()
          if r["condition"] in ("native", "google", "cohere")]
    return mc + rtt_study()


def test_the_legend_holds_every_series_drawn_not_only_the_first_panels() -> None:
    records = two_benchmarks()

    plots = make_plots(analyze(records, KINDS, pairs=PAIRS), records)

    assert list(legend(plots["scores.svg"])) == list(KINDS)  # mc, drawn first, has no rtt
    assert list(legend(plots["round_trip.svg"])) == ["native", "google", "google-rtt", "cohere",
                                                     "cohere-rtt"]


def test_a_condition_has_one_colour_in_every_panel_and_figure() -> None:
    records = two_benchmarks()

    plots = make_plots(analyze(records, KINDS, pairs=PAIRS), records)

    scores, trips = bar_colours(plots["scores.svg"]), bar_colours(plots["round_trip.svg"])
    assert all(len(colours) == 1 for colours in (*scores.values(), *trips.values()))
    assert {c: scores[c] for c in trips} == trips  # the round-trip figure reuses them
    assert len({next(iter(c)) for c in scores.values()}) == len(KINDS)  # and they differ
    for name, colour in legend(plots["round_trip.svg"]).items():
        assert {colour} == scores[name]


def test_the_fallback_mean_is_its_own_grey_series() -> None:
    records = rtt_study()

    plots = make_plots(analyze(records, KINDS), records)

    entries = legend(plots["round_trip.svg"])
    assert entries["mean of google, cohere"] == "#777777"
    assert "google" not in entries  # unpaired: no single-pass partner is drawn


def test_arms_and_languages_keep_their_colour_and_mark_in_the_scatter() -> None:
    records = rtt_study() + [{**r, "arm": "a2", "score": r["score"] * 0.9} for r in rtt_study()]

    svg = make_plots(analyze(records, KINDS), records)["delta_vs_native.svg"]

    entries = legend(svg)
    assert list(entries) == ["a1", "a2", "es", "zh"]
    root = ElementTree.fromstring(svg)
    points = [(p.tag.removeprefix(SVG), p.get("fill"), (p.find(f"{SVG}title").text or ""))
              for p in root.iter() if p.find(f"{SVG}title") is not None and p.tag != f"{SVG}svg"]
    for tag, fill, tip in points:
        model_language_arm = tip.split(":")[0].split()
        assert fill == entries[model_language_arm[2]]
        assert tag == {"es": "circle", "zh": "polygon"}[model_language_arm[1]]


@pytest.mark.parametrize(("low", "high", "expected"), [
    (0.0, 0.62, [0.0, 0.2, 0.4, 0.6, 0.8]),
    (-0.013, 0.09, [-0.05, 0.0, 0.05, 0.1]),  # span/4 = 0.026: step 0.05
    (50.0, 250.0, [50.0, 100.0, 150.0, 200.0, 250.0]),
    (0.5, 0.5, [0.0, 0.5, 1.0]),  # no span: ±0.5 around the value
], ids=["scores", "small-deltas", "judge-totals", "flat"])
def test_axis_ticks_are_round_and_cover_the_data(low: float, high: float,
                                                 expected: list[float]) -> None:
    assert ticks(low, high) == pytest.approx(expected)
