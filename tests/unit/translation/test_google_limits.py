"""The Google engine's request shaping: the v2 limits, long texts cut and put back."""

from __future__ import annotations

import pytest

from nativejobs.errors import StepInputError
from nativejobs.translation import EngineConfig
from nativejobs.translation.google import MAX_SEGMENTS, GoogleTranslator, split_long


@pytest.mark.parametrize("text", [
    "short", "line one\nline two\n" * 40, "One sentence. " * 200, "x" * 1234,
    "Párrafo uno.\n\nPárrafo dos, " + "muy largo " * 300])
def test_split_long_pieces_fit_and_join_back(text: str) -> None:
    pieces = split_long(text, 100)

    assert "".join(pieces) == text
    assert all(len(p) <= 100 for p in pieces)


def test_split_long_prefers_line_breaks() -> None:
    text = "a" * 60 + "\n" + "b" * 60
    assert split_long(text, 100) == ["a" * 60 + "\n", "b" * 60]


def test_requests_respect_segment_and_character_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "test-key")
    g = GoogleTranslator(EngineConfig(kind="google", max_request_chars=1000))

    many = g._requests([f"t{i}" for i in range(300)])
    big = g._requests(["x" * 400] * 5)

    assert [len(r) for r in many] == [MAX_SEGMENTS, MAX_SEGMENTS, 300 - 2 * MAX_SEGMENTS]
    assert [len(r) for r in big] == [2, 2, 1]


def test_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MY_KEY", raising=False)
    with pytest.raises(StepInputError, match="MY_KEY is not set"):
        GoogleTranslator(EngineConfig(kind="google", api_key_env="MY_KEY"))
