"""Formatting kept through translation: what of a text an engine sees, and how it is put back.

A text becomes a ``Layout``: translatable pieces between verbatim parts. Verbatim are the
whitespace around pieces, fenced code blocks (```` ``` ```` or ``~~~``, when ``protect_code``),
text with no letters (numbers, rules, emoji), and in ``lines`` mode each line's indentation and
list, heading or quote marker. So line breaks, lists and code come back exactly as they were,
whatever the engine does inside a piece; an empty field has no pieces and stays empty.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = ["Layout", "has_letters", "layout", "prose"]

_MARKER = re.compile(r"^(\s*(?:(?:[-*+•]|\d{1,3}[.)]|#{1,6}|>)\s+)*)(.*?)(\s*)$", re.S)
_FENCE = re.compile(r"^\s*(```|~~~)")


def has_letters(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


@dataclass(frozen=True)
class Layout:
    """``parts``: (translate?, text) in order; the pieces are the parts to translate."""

    parts: tuple[tuple[bool, str], ...]

    @property
    def pieces(self) -> list[str]:
        return [text for translate, text in self.parts if translate]

    def render(self, translations: Mapping[str, str]) -> str:
        """The text with each piece replaced by its translation. Raises: KeyError if one lacks."""
        return "".join(translations[text] if translate else text for translate, text in self.parts)


def _blocks(lines: list[str], protect_code: bool) -> list[tuple[bool, list[str]]]:
    """Runs of lines: (is_code, lines). An unclosed fence runs to the end, as in Markdown."""
    blocks: list[tuple[bool, list[str]]] = []
    fence: str | None = None
    for line in lines:
        m = _FENCE.match(line) if protect_code else None
        is_code = fence is not None or m is not None
        if blocks and blocks[-1][0] == is_code and not (m and fence is None):
            blocks[-1][1].append(line)
        else:
            blocks.append((is_code, [line]))
        if m and fence is None:
            fence = m.group(1)
        elif m and m.group(1) == fence:
            fence = None
    return blocks


def _around(text: str) -> list[tuple[bool, str]]:
    """Leading and trailing whitespace verbatim, the core a piece if it has letters."""
    core = text.strip()
    if not has_letters(core):
        return [(False, text)] if text else []
    start = text.index(core)
    parts = [(False, text[:start]), (True, core), (False, text[start + len(core):])]
    return [p for p in parts if p[1]]


def _line(line: str) -> list[tuple[bool, str]]:
    m = _MARKER.match(line)
    assert m is not None  # the pattern matches any string
    head, core, tail = m.groups()
    if not has_letters(core):
        return [(False, line)] if line else []
    return [p for p in ((False, head), (True, core), (False, tail)) if p[1]]


def layout(text: str, *, mode: Literal["field", "lines"] = "field",
           protect_code: bool = True) -> Layout:
    """Split ``text`` into translatable pieces and verbatim parts (see the module docstring)."""
    parts: list[tuple[bool, str]] = []
    for i, (is_code, lines) in enumerate(_blocks(text.split("\n"), protect_code)):
        if i:
            parts.append((False, "\n"))
        if is_code:
            parts.append((False, "\n".join(lines)))
        elif mode == "field":
            parts += _around("\n".join(lines))
        else:
            for j, line in enumerate(lines):
                parts += ([(False, "\n")] if j else []) + _line(line)
    merged: list[tuple[bool, str]] = []
    for translate, chunk in parts:  # adjacent verbatim parts as one, for a readable layout
        if merged and not translate and not merged[-1][0]:
            merged[-1] = (False, merged[-1][1] + chunk)
        else:
            merged.append((translate, chunk))
    return Layout(tuple(merged))


def prose(text: str) -> str:
    """``text`` without its fenced code blocks: what language identification should look at."""
    return "\n".join("\n".join(lines) for is_code, lines in _blocks(text.split("\n"), True)
                     if not is_code)
