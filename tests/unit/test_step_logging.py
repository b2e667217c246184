"""The step log: every line tagged with its step, third-party records included."""

from __future__ import annotations

import logging

import pytest

from nativejobs.steps.__main__ import _logger


def test_third_party_records_are_tagged_not_broken(capsys: pytest.CaptureFixture[str]) -> None:
    log = _logger("summarize", "0123456789abcdef")
    log.info("ours")
    logging.getLogger("matplotlib.font_manager").warning("theirs")

    out, err = capsys.readouterr()
    assert "Logging error" not in err + out
    lines = out.splitlines()
    assert lines[0].endswith("INFO [summarize/01234567] ours")
    assert lines[1].endswith("WARNING [summarize/01234567] theirs")
