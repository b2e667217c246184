"""`nativejobs results --import ... --pair ... --what analysis`: the CLI as a user runs it
(``python -m nativejobs``), on a record file made here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.report.test_round_trip_pairs import KINDS, rtt_study

REPO = Path(__file__).resolve().parents[3]


def nativejobs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nativejobs", *args], capture_output=True,
                          text=True, timeout=300, cwd=REPO)


@pytest.fixture
def published(tmp_path: Path) -> Path:
    path = tmp_path / "published.json"
    rows = [{**r, "condition_kind": KINDS[r["condition"]]} for r in rtt_study()]
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


def test_pairs_from_the_command_line_reach_the_analysis_json(published: Path) -> None:
    run = nativejobs("results", "--import", str(published), "--format", "json", "--what",
                     "analysis", "--pair", "google-rtt=google", "--pair", "cohere-rtt=cohere")

    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["pairs"] == {"google-rtt": "google", "cohere-rtt": "cohere"}
    assert {s["single_pass"] for s in doc["round_trip_summary"]} == {"google", "cohere"}


@pytest.mark.parametrize(("args", "message"), [
    (("--pair", "google-rtt"), "--pair: got 'google-rtt'; use RTT=SINGLE, e.g. google-rtt=google"),
    (("--pair", "google=cohere"), "pair google=cohere: 'google' is not a round_trip condition"),
    (("--what", "analysis"), "--what analysis is JSON; use --format json (got md;"),
    (("--what", "cells", "--format", "json"), "--what: got 'cells'; use one of records, analysis"),
], ids=["no-equals", "not-round-trip", "analysis-md", "unknown-what"])
def test_bad_options_are_one_line_and_exit_2(published: Path, args: tuple[str, ...],
                                             message: str) -> None:
    run = nativejobs("results", "--import", str(published), *args)

    assert run.returncode == 2
    assert message in run.stderr and "Traceback" not in run.stderr
