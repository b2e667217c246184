"""Formatting survives translation: line breaks, lists, code blocks, empty fields."""

from __future__ import annotations

import pytest

from nativejobs.translation.segments import layout, prose

CODE = "Use this:\n\n```python\ndef f(x):\n    return x  # keep me\n```\n\nThen run it."
LIST = "Steps:\n1. Open the box.\n2. Take the toy.\n   - carefully\n\n* Done!"


def upper(text: str, mode: str = "field") -> str:
    lay = layout(text, mode=mode)  # type: ignore[arg-type]
    return lay.render({p: p.upper() for p in lay.pieces})


@pytest.mark.parametrize("mode", ["field", "lines"])
def test_code_blocks_are_copied_not_translated(mode: str) -> None:
    lay = layout(CODE, mode=mode)  # type: ignore[arg-type]

    assert all("def f" not in p and "```" not in p for p in lay.pieces)
    assert upper(CODE, mode) == CODE.replace("Use this:", "USE THIS:").replace(
        "Then run it.", "THEN RUN IT.")


def test_lines_mode_keeps_list_markers_and_indentation() -> None:
    lay = layout(LIST, mode="lines")

    assert lay.pieces == ["Steps:", "Open the box.", "Take the toy.", "carefully", "Done!"]
    assert upper(LIST, "lines") == ("STEPS:\n1. OPEN THE BOX.\n2. TAKE THE TOY.\n   - CAREFULLY"
                                    "\n\n* DONE!")


def test_field_mode_sends_the_whole_field_and_keeps_its_outer_whitespace() -> None:
    lay = layout("\n  Line one.\nLine two.  \n", mode="field")

    assert lay.pieces == ["Line one.\nLine two."]
    assert upper("\n  Line one.\nLine two.  \n") == "\n  LINE ONE.\nLINE TWO.  \n"


@pytest.mark.parametrize("text", ["", "   ", "42", "3.14 + 2", "---", "\n\n"])
@pytest.mark.parametrize("mode", ["field", "lines"])
def test_text_without_letters_is_kept_as_is(text: str, mode: str) -> None:
    lay = layout(text, mode=mode)  # type: ignore[arg-type]

    assert lay.pieces == []
    assert lay.render({}) == text


def test_unclosed_fence_protects_to_the_end() -> None:
    lay = layout("Intro.\n```\nprint('hola')\nmore code", mode="lines")

    assert lay.pieces == ["Intro."]


def test_protect_code_off_translates_code_too() -> None:
    lay = layout(CODE, mode="field", protect_code=False)

    assert lay.pieces == [CODE]


def test_prose_drops_code_for_language_identification() -> None:
    assert "def f" not in prose(CODE)
    assert "Then run it." in prose(CODE)
