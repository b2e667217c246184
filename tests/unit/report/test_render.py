"""The markdown report, the self-contained HTML page and the plots."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from typing import Any
from xml.etree import ElementTree

import pytest

from nativejobs.report import Cell, analyze, completeness, make_plots, render_html, render_markdown
from tests.unit.builders import record
from tests.unit.report.builders import KINDS, MC, NOISY, study


def full_study() -> tuple[list[dict[str, Any]], dict[Any, Any]]:
    cells = {}
    for arm in ("a1", "a2"):
        for lang, table in (("es", MC), ("ru", NOISY), ("zh", MC)):
            cells["m1", arm, lang, "mc"] = {"accuracy": table}
    return study(cells, repeat=3)


def md_tables(text: str) -> dict[str, list[list[str]]]:
    """Section title → the table's rows (header first, separator dropped)."""
    out: dict[str, list[list[str]]] = {}
    for block in text.split("\n## ")[1:]:
        title, _, body = block.partition("\n")
        rows = [[c.strip() for c in line.strip().strip("|").split("|")]
                for line in body.splitlines() if line.startswith("|")]
        out[title] = [r for r in rows if not all(set(c) <= {"-"} for c in r)]
    return out


def test_markdown_has_every_section() -> None:
    records, items = full_study()

    text = render_markdown(analyze(records, KINDS, items=items, n_resamples=500), records,
                           title="study")

    assert text.startswith("# study\n")
    tables = md_tables(text)
    assert list(tables) == ["Scores", "ΔS summary", "ΔS with 95% CI",
                            "r(ΔS, S_native) per benchmark", "Per model, languages averaged",
                            "Round trip vs single pass: per system", "Round trip vs single pass",
                            "Arms side by side", "Completeness: coverage of the records"]
    gaps = {(r[1], r[2]): r for r in tables["ΔS with 95% CI"][1:]}
    header = tables["ΔS with 95% CI"][0]
    es = dict(zip(header, gaps["a1", "es"], strict=True))
    assert (es["native"], es["translated"], es["ΔS"], es["items"]) == ("0.800", "0.500", "+0.300", "30")
    assert re.fullmatch(r"\[0\.\d{3}, 0\.\d{3}\]", es["CI"]) and es["noise"] == "significant"
    assert dict(zip(header, gaps["a1", "ru"], strict=True))["noise"] == "inside noise"
    assert es["McNemar p"].startswith("cohere ") and "; google " in es["McNemar p"]
    r_rows = tables["r(ΔS, S_native) per benchmark"]
    assert r_rows[0] == ["arm", "benchmark", "metric", "r (points)", "p", "n", "r (model means)",
                         "p", "n"]
    assert [row[0] for row in r_rows[1:]] == ["a1", "a2"] and r_rows[1][5] == "3"
    assert r_rows[1][8] == "1"  # one model: its language mean is a single point
    assert tables["Arms side by side"][0][-2:] == ["a1", "a2"]


def test_records_alone_get_coverage_last_not_missing_cells_first() -> None:
    records = [record("native", 0.5), record("google", 0.3), record("native", 0.4, language="ru")]

    text = render_markdown(analyze(records, KINDS), records)

    assert list(md_tables(text))[-1] == "Completeness: coverage of the records"
    assert "| missing |" not in text and "not run" not in text
    assert "| qa | a1 | es, ru | 1 | native 2/2, google 1/2 |" in text
    assert "no CIs or tests" in text
    assert "unavailable: no per-item results" in text


def test_a_run_with_holes_puts_completeness_first() -> None:
    records = [record("native", 0.5), record("google", 0.3)]
    cells = [Cell("m1", "es", c, "a1", chain=(("evaluate", f"k-{c}"),)) for c in ("native", "google")]
    status = completeness([*cells, Cell("m1", "ru", "native", "a1", chain=(("evaluate", "k-ru"),))],
                          {"k-native", "k-google"}, {"k-ru": "exit code 1"})

    text = render_markdown(analyze(records, KINDS, completeness=status), records)

    assert next(iter(md_tables(text))) == "Completeness"
    assert "3 cells: 2 done, 1 failed (the cells the spec asked for)" in text


def test_a_run_with_no_result_yet_shows_its_completeness_alone() -> None:
    cells = [Cell("m1", lang, "native", "a1", chain=(("prepare", f"p-{lang}"), ("evaluate", f"e-{lang}")))
             for lang in ("es", "ru")]
    status = completeness(cells, set(), {"p-es": "bad_input after 1 attempt(s), exit code 3"})
    analysis = analyze([], KINDS, completeness=status)

    text = render_markdown(analysis, [])

    assert list(md_tables(text)) == ["Completeness"]
    assert "(none)" not in text and "2 cells: 1 failed, 1 not run" in text
    assert re.findall(r'<section id="([a-z-]+)"', render_html(analysis, [], {})) == ["completeness"]


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: list[str] = []
        self.srcs: list[str] = []
        self.links: list[str] = []
        self.svgs = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self.tables.append(a.get("id") or "")
        if tag in ("img", "script", "iframe") and a.get("src"):
            self.srcs.append(a["src"] or "")
        if tag == "link":
            self.links.append(a.get("href") or "")
        if tag == "svg":
            self.svgs += 1


def test_html_is_self_contained_with_tables_and_plots() -> None:
    records, items = full_study()
    analysis = analyze(records, KINDS, items=items, n_resamples=500)
    plots = make_plots(analysis, records)

    page = _Page()
    page.feed(render_html(analysis, records, plots, title="study <1>"))

    assert page.tables == ["scores-table", "summary-table", "gaps-table", "correlations-table",
                           "model-means-table", "round-trip-summary-table", "round-trip-table",
                           "arms-table", "completeness-table"]
    assert page.links == [] and page.srcs == []  # nothing fetched, nothing referenced
    assert page.svgs == len(plots) == 4  # every figure inline


def test_png_figures_are_embedded_as_data_uris() -> None:
    records = [record("native", 0.5), record("google", 0.3)]
    png = b"\x89PNG\r\n\x1a\n..."

    page = _Page()
    page.feed(render_html(analyze(records, KINDS), records, {"scores.png": png}))

    assert page.srcs == ["data:image/png;base64," + base64.b64encode(png).decode()]


def test_html_escapes_names() -> None:
    records = [record("native", 0.5, model="<b>m</b>"), record("google", 0.3, model="<b>m</b>")]

    text = render_html(analyze(records, KINDS), records, {})

    assert "<b>m</b>" not in text and "&lt;b&gt;m&lt;/b&gt;" in text


def test_plots_are_the_papers_figure_types() -> None:
    records, items = full_study()

    plots = make_plots(analyze(records, KINDS, items=items, n_resamples=200), records)

    assert sorted(plots) == ["delta_by_model.svg", "delta_vs_native.svg", "round_trip.svg",
                             "scores.svg"]
    for svg in plots.values():
        root = ElementTree.fromstring(svg)
        assert root.tag.endswith("svg") and float(root.get("width") or 0) > 300
        assert len(list(root.iter())) > 20  # marks, not an empty canvas


@pytest.mark.parametrize("records", [
    pytest.param([record("native", 0.5)], id="native-only"),
    pytest.param([record("google", 0.5), record("cohere", 0.4)], id="no-native"),
])
def test_sparse_records_still_render(records: list[dict[str, Any]]) -> None:
    analysis = analyze(records, KINDS)

    plots = make_plots(analysis, records)

    assert list(plots) == ["scores.svg"]
    assert "<table" in render_html(analysis, records, plots)
    assert "(none)" in render_markdown(analysis, records)
