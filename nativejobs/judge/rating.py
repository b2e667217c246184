"""Reading the rating out of a judge's verdict: the last ``[[N]]`` in it, N an integer 1–5.

MT-Bench parses ``\\[\\[(\\d+\\.?\\d*)\\]\\]`` (FastChat ``llm_judge/common.py``); we take the
last such match (the verdict follows the explanation, which may quote the format), accept a
whole number written as ``N.0`` and spaces inside the brackets, and reject anything off the
scale (``[[7]]``, ``[[3.5]]``): such a verdict is unparsable, and the judge is asked again.
"""

from __future__ import annotations

import re

__all__ = ["SCALE", "parse_rating"]

SCALE = (1, 5)  # the paper's Likert scale; a model's total over 50 questions is 50–250
_RATING = re.compile(r"\[\[\s*(\d+(?:\.\d+)?)\s*\]\]")


def parse_rating(text: str) -> int | None:
    """The rating in a verdict, or None if its last ``[[...]]`` is missing or off the scale.

    >>> parse_rating("Helpful and accurate. Rating: [[4]]")
    4
    >>> parse_rating("Rating: [[4.0]]"), parse_rating("[[6]]"), parse_rating("[[rating]]")
    (4, None, None)
    """
    matches = _RATING.findall(text or "")
    if not matches:
        return None
    value = float(matches[-1])
    if not value.is_integer() or not SCALE[0] <= value <= SCALE[1]:
        return None
    return int(value)
