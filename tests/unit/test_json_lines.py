"""One JSON-lines loop: values with their line numbers, blank lines skipped, and a neutral error
(line, why) that each reader words its own way."""

from __future__ import annotations

import pytest

from nativejobs.json_lines import TOO_DEEP, JsonLineError, iter_json_lines


def test_values_come_with_their_line_numbers_and_blank_lines_are_skipped() -> None:
    text = '{"a": 1}\n\n   \n[1, 2]\n"s"\r\n'

    assert list(iter_json_lines(text)) == [(1, {"a": 1}), (4, [1, 2]), (5, "s")]


@pytest.mark.parametrize(("text", "line", "why", "too_deep"), [
    pytest.param('{"a": 1}\nnot json\n', 2, "Expecting value", False, id="not-json"),
    pytest.param('{"a": 1}\n{"a": \n', 2, "Expecting value", False, id="truncated"),
    pytest.param("\n" + "[" * 100_000 + "\n", 2, TOO_DEEP, True, id="too-deep"),
])
def test_the_first_bad_line_is_named_with_why(text: str, line: int, why: str, too_deep: bool) -> None:
    with pytest.raises(JsonLineError) as info:
        list(iter_json_lines(text))

    assert (info.value.line, info.value.why, info.value.is_too_deep) == (line, why, too_deep)
    assert str(info.value) == f"line {line} is not valid JSON ({why})"
