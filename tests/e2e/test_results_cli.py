"""`nativejobs results` through the CLI: imported records and the HTML report file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import nativejobs
from tests.e2e.test_report_html import RECORDS

pytestmark = pytest.mark.e2e


def test_import_prints_gaps_correlations_and_completeness(tmp_path: Path) -> None:
    records = tmp_path / "published.csv"
    records.write_text(RECORDS)

    md = nativejobs("results", "--import", str(records), "--store", str(tmp_path / "s"))

    assert md.returncode == 0, md.stderr
    text = " ".join(md.stdout.split())
    assert "ΔS" in text and "0.090" in text  # es: 0.61 − 0.52
    assert "r(ΔS, S_native) per benchmark" in text and "+1.000" in text  # 3 points on a line
    assert "unavailable" in text  # no per-item results: CIs are said to be missing, not faked
    assert "ompleteness" in text


def test_import_writes_a_self_contained_html_report(tmp_path: Path) -> None:
    records = tmp_path / "published.csv"
    records.write_text(RECORDS)
    page = tmp_path / "report.html"

    run = nativejobs("results", "--import", str(records), "--format", "html", "-o", str(page))

    assert run.returncode == 0, run.stderr
    html = page.read_text()
    assert html.lstrip().lower().startswith("<!doctype html") and "<svg" in html  # figures inline
    assert "src=\"http" not in html and "href=\"http" not in html  # nothing fetched from outside


def test_bad_record_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("model,language,condition\nm,es,native\n")

    run = nativejobs("results", "--import", str(bad))

    assert run.returncode == 2
    assert "bad.csv" in run.stderr and "missing" in run.stderr and "Traceback" not in run.stderr
