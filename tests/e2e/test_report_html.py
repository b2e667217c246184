"""The HTML report renders in a real browser: headless Chromium (Debian's ``chromium``).

Two reports, no model run: one made by the summarize step (run through the step entrypoint)
from hand-made evaluate outputs with per-item predictions, and one from an imported record
file. Each is opened with ``chromium --headless``: the screenshot must not be blank, the DOM
must hold every table and the inline SVG figures, and each figure's one legend must name every
series drawn in it (round trips included, each in its own condition's colour).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from nativejobs.report import import_report
from nativejobs.store import FileStore, step_dir
from tests.e2e.conftest import REPO
from tests.unit.report.builders import study_plan, write_evaluation

pytestmark = pytest.mark.e2e

TABLES = ["scores-table", "summary-table", "gaps-table", "correlations-table",
          "model-means-table", "completeness-table"]
RECORDS = """model,language,condition,arm,benchmark,metric,score,n,condition_kind
llama-2-7b,es,native,lr-1e-4,mc,acc,0.45,500,native
llama-2-7b,es,google,lr-1e-4,mc,acc,0.40,500,translated
llama-2-7b,es,native,lr-1e-4,xquad,exact_match,0.61,1190,native
llama-2-7b,es,google,lr-1e-4,xquad,exact_match,0.52,1190,translated
llama-2-7b,ru,native,lr-1e-4,xquad,exact_match,0.48,1190,native
llama-2-7b,ru,google,lr-1e-4,xquad,exact_match,0.47,1190,translated
llama-2-7b,zh,native,lr-1e-4,xquad,exact_match,0.70,1190,native
llama-2-7b,zh,google,lr-1e-4,xquad,exact_match,0.55,1190,translated
llama-2-7b,zh,rtt,lr-1e-4,xquad,exact_match,0.58,1190,round_trip
"""


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("headless Chromium is needed: apt-get update && apt-get install -y chromium")
    return found


def browse(chromium: str, page: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # --no-sandbox: CI containers run as root; a fresh profile keeps runs independent.
    return subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                           "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}", *args,
                           page.as_uri()], capture_output=True, text=True, timeout=180)


class _Dom(HTMLParser):
    """Tables by id; per inline SVG figure, its legend entries (name, colour) and the colour of
    every bar by series (from each bar's tooltip, "label · series: value")."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[str] = []
        self.figures: list[dict[str, dict[str, str] | dict[str, set[str]]]] = []
        self._entry = self._bar = False
        self._fill = self._tag = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self.tables.append(a.get("id") or "")
        elif tag == "svg":
            self.figures.append({"legend": {}, "bars": {}})
        elif tag == "g" and a.get("class") == "entry":
            self._entry, self._fill = True, ""
        elif self._entry and tag in ("rect", "circle", "polygon") and not self._fill:
            self._fill = a.get("fill") or ""
        elif tag == "rect" and not self._entry:
            self._bar, self._fill = True, a.get("fill") or ""
        elif tag != "title":
            self._bar = False  # a bar's tooltip is the <title> right inside its <rect>
        self._tag = tag

    def handle_data(self, data: str) -> None:
        if not self.figures:
            return
        figure = self.figures[-1]
        if self._entry and self._tag == "text":
            figure["legend"][data] = self._fill  # type: ignore[assignment]
            self._entry = False
        elif self._bar and self._tag == "title" and " · " in data:
            series = data.split(" · ", 1)[1].rsplit(": ", 1)[0]
            figure["bars"].setdefault(series, set()).add(self._fill)  # type: ignore[union-attr]
            self._bar = False


def check_renders(chromium: str, page: Path, tmp_path: Path) -> _Dom:
    shot = tmp_path / "shot.png"
    run = browse(chromium, page, tmp_path, f"--screenshot={shot}", "--window-size=1200,2000")
    assert shot.exists(), run.stderr[-2000:]
    image = Image.open(shot).convert("L")
    assert image.size == (1200, 2000)
    assert ImageStat.Stat(image).var[0] > 100, "the screenshot is blank"
    dom = browse(chromium, page, tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    parsed = _Dom()
    parsed.feed(dom.stdout)
    assert set(TABLES) <= set(parsed.tables), parsed.tables
    assert len(parsed.figures) >= 3
    for figure in parsed.figures:
        bars, legend = figure["bars"], figure["legend"]
        assert set(bars) <= set(legend), (bars, legend)  # every series drawn is in the legend
        assert all(colours == {legend[name]} for name, colours in bars.items())
    return parsed


def test_summarize_report_renders(chromium: str, tmp_path: Path) -> None:
    store, plan = FileStore(tmp_path / "store"), study_plan()
    for ev in (s for s in plan.steps if s.kind == "evaluate"):
        write_evaluation(store, ev, repeat=20)
    summary = plan.summary
    store.put_json(f"{step_dir('summarize', summary.key)}/_step.json", summary.definition())

    run = subprocess.run([sys.executable, "-m", "nativejobs.steps", "run", "--store",
                          str(store.root), "--step", summary.ref], capture_output=True, text=True,
                         timeout=600, cwd=REPO)

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert store.is_done("summarize", summary.key)
    page = store.root / step_dir("summarize", summary.key) / "report.html"
    dom = check_renders(chromium, page, tmp_path)
    assert "round-trip-table" in dom.tables
    trips = dom.figures[-1]["legend"]
    # The plan pairs the round trip with the single pass of its own engine (cohere, not google).
    assert list(trips) == ["native", "cohere", "rtt"]
    assert len(set(trips.values())) == 3  # the round trip no longer wears native's colour


def test_imported_records_report_renders(chromium: str, tmp_path: Path) -> None:
    records = tmp_path / "paper.csv"
    records.write_text(RECORDS, encoding="utf-8")
    page = tmp_path / "report.html"

    page.write_text(import_report([records], "html"), encoding="utf-8")

    dom = check_renders(chromium, page, tmp_path)
    assert "unavailable: no per-item results" in page.read_text(encoding="utf-8")
    scores = dom.figures[0]["legend"]
    # The first panel (mc) has no rtt bar; the one legend still lists rtt, in its own colour.
    assert list(scores) == ["native", "google", "rtt"] and len(set(scores.values())) == 3
