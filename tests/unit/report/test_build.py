"""Reports from records alone (imported files), and the light controller: no numpy for md/csv/json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nativejobs.report import REPORT_FORMATS, ReportInputError, import_report, report_text
from tests.unit.builders import record
from tests.unit.report.builders import KINDS

PAPER = """model,language,condition,arm,benchmark,metric,score,n,condition_kind
llama-2-7b,es,native,lr-1e-4,xquad,exact_match,0.60,1190,native
llama-2-7b,es,cohere,lr-1e-4,xquad,exact_match,0.40,1190,translated
llama-2-7b,es,google,lr-1e-4,xquad,exact_match,0.60,1190,translated
llama-2-7b,ru,native,lr-1e-4,xquad,exact_match,0.50,1190,native
llama-2-7b,ru,cohere,lr-1e-4,xquad,exact_match,0.50,1190,translated
llama-2-7b,ru,google,lr-1e-4,xquad,exact_match,0.30,1190,translated
llama-2-7b,zh,native,lr-1e-4,xquad,exact_match,0.80,1190,native
llama-2-7b,zh,cohere,lr-1e-4,xquad,exact_match,0.50,1190,translated
"""


@pytest.fixture
def paper(tmp_path: Path) -> Path:
    path = tmp_path / "paper.csv"
    path.write_text(PAPER, encoding="utf-8")
    return path


def test_import_prints_delta_r_cis_and_coverage(paper: Path) -> None:
    text = import_report([paper], "md")

    assert text.startswith("# Results: paper.csv")
    cell = "| llama-2-7b | lr-1e-4 | {} | xquad | exact_match | {} |"
    assert cell.format("es", "0.600 | cohere, google | 0.500 | +0.100") in text
    assert cell.format("zh", "0.800 | cohere | 0.500 | +0.300") in text
    assert "unavailable: no per-item results" in text
    # r over (es 0.1, 0.6), (ru 0.1, 0.5), (zh 0.3, 0.8) = 5/sqrt(28) = 0.945
    assert "| lr-1e-4 | xquad | exact_match | +0.945 | 0.212 | 3 |" in text
    assert "| xquad | lr-1e-4 | es, ru, zh | 1 | native 3/3, cohere 3/3, google 2/3 |" in text
    assert text.index("## Completeness: coverage of the records") > text.index("## Scores")


def test_import_beside_own_records_and_explicit_kinds(paper: Path) -> None:
    own = [record("native", 0.7, model="mine", arm="lr-1e-4", benchmark="xquad",
                  metric="exact_match"),
           record("deepl", 0.65, model="mine", arm="lr-1e-4", benchmark="xquad",
                  metric="exact_match")]

    text = import_report([paper], "csv", kinds={"deepl": "translated", "native": "native"},
                         with_records=own)

    lines = text.splitlines()
    assert len(lines) == 1 + 8 + 2 and "source" in lines[0]
    assert sum("paper.csv" in line for line in lines) == 8


def test_import_needs_kinds_for_every_condition(paper: Path) -> None:
    with pytest.raises(ReportInputError, match="condition 'deepl' has no kind"):
        import_report([paper], "md", with_records=[record("deepl", 0.5)])


def test_duplicate_cells_are_refused(paper: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.csv"
    again.write_text(PAPER, encoding="utf-8")

    with pytest.raises(ReportInputError, match=r"8 cell\(s\) have more than one record"):
        import_report([paper, again], "md")


def test_import_html_renders(paper: Path) -> None:
    text = import_report([paper], "html")

    assert text.startswith("<!DOCTYPE html>") and 'id="gaps-table"' in text
    assert text.count('<figure class="plot"><svg') == 3  # scores, ΔS by model, ΔS vs native


def test_report_text_formats() -> None:
    records = [record("native", 0.5), record("google", 0.4)]

    assert set(REPORT_FORMATS) == {"md", "csv", "json", "html"}
    assert json.loads(report_text(records, KINDS, "json")) == records
    assert report_text(records, KINDS, "csv").splitlines()[0].startswith("model,")
    with pytest.raises(ValueError, match="unknown format 'xlsx'; use one of md, csv, json, html"):
        report_text(records, KINDS, "xlsx")


def test_md_csv_json_need_neither_numpy_nor_matplotlib(paper: Path) -> None:
    code = (
        "import sys\n"
        "from nativejobs.report import import_report\n"
        f"for fmt in ('md', 'csv', 'json'): import_report([{str(paper)!r}], fmt)\n"
        "heavy = [m for m in ('numpy', 'scipy', 'matplotlib') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)

    assert run.returncode == 0, run.stderr
