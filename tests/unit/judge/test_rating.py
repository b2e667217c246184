"""parse_rating: the last [[N]] of a verdict, N a whole number on the 1–5 scale."""

from __future__ import annotations

import pytest

from nativejobs.judge import parse_rating


@pytest.mark.parametrize(("text", "rating"), [
    pytest.param("The answer is helpful and accurate.\n\nRating: [[4]]", 4, id="mt-bench-style"),
    pytest.param("[[1]]", 1, id="lowest"),
    pytest.param("[[5]]", 5, id="highest"),
    pytest.param("Rating: [[3.0]]", 3, id="whole-number-as-float"),
    pytest.param("Rating: [[ 2 ]]", 2, id="spaces-inside"),
    pytest.param("The format is '[[rating]]', e.g. [[2]]. My verdict: [[5]]", 5, id="last-wins"),
    pytest.param("Rating: [[4]]\n(on a scale of [[1]] to [[5]]) final: [[3]]", 3, id="last-of-many"),
    pytest.param("", None, id="empty"),
    pytest.param("Rating: 4", None, id="no-brackets"),
    pytest.param("Rating: [4]", None, id="single-brackets"),
    pytest.param("Rating: [[rating]]", None, id="placeholder"),
    pytest.param("Rating: [[0]]", None, id="below-scale"),
    pytest.param("Rating: [[6]]", None, id="above-scale"),
    pytest.param("Rating: [[10]]", None, id="mt-bench-1-10-scale"),
    pytest.param("Rating: [[3.5]]", None, id="not-whole"),
    pytest.param("Rating: [[-2]]", None, id="negative"),
    pytest.param("Rating: [[4]] ... actually [[7]]", None, id="last-off-scale"),
    pytest.param("评分：[[5]]", 5, id="non-english-text"),
])
def test_parse_rating(text: str, rating: int | None) -> None:
    assert parse_rating(text) == rating
