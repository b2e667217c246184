"""The HTML report renders in a real browser: headless Chromium (Debian's ``chromium``).

Two reports, no model run: one made by the summarize step (run through the step entrypoint)
from hand-made evaluate outputs with per-item predictions, and one from an imported record
file. Each is opened with ``chromium --headless``: the screenshot must not be blank and the
DOM must hold every table and the embedded plots.
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

TABLES = ["scores-table", "gaps-table", "correlations-table", "completeness-table"]
RECORDS = """model,language,condition,arm,benchmark,metric,score,n,condition_kind
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
    def __init__(self) -> None:
        super().__init__()
        self.tables: list[str] = []
        self.images = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self.tables.append(a.get("id") or "")
        if tag == "img" and (a.get("src") or "").startswith("data:image/png;base64,"):
            self.images += 1


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
    assert parsed.images >= 3
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


def test_imported_records_report_renders(chromium: str, tmp_path: Path) -> None:
    records = tmp_path / "paper.csv"
    records.write_text(RECORDS, encoding="utf-8")
    page = tmp_path / "report.html"

    page.write_text(import_report([records], "html"), encoding="utf-8")

    check_renders(chromium, page, tmp_path)
    assert "unavailable: no per-item results" in page.read_text(encoding="utf-8")
