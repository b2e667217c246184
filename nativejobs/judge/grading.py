"""Asking a judge for verdicts until each has a rating or the tries run out.

``grade`` is the retry policy and nothing else: it sends every (instruction, response) pair's
prompt, reads each reply with ``parse_rating``, and sends the unparsable ones again with the
judge's own reply and a nudge (``prompt.NUDGE``), up to ``tries`` times in all. A pair still
without a rating is returned as ``unparsable`` with every raw reply kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from nativejobs.judge.prompt import judge_messages, nudge_messages
from nativejobs.judge.rating import parse_rating

__all__ = ["Judge", "Verdict", "grade"]


class Judge(Protocol):
    """A loaded judge model: one reply per conversation, in order."""

    usage: dict[str, int]

    def complete(self, conversations: list[list[dict[str, str]]]) -> list[str]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Verdict:
    """A judge's verdict on one response.

    Attributes:
        rating: 1–5, or None when no reply could be read (``unparsable``).
        replies: The judge's raw reply to each attempt, first to last.
    """

    rating: int | None
    replies: tuple[str, ...]

    @property
    def attempts(self) -> int:
        return len(self.replies)

    @property
    def status(self) -> str:
        return "rated" if self.rating is not None else "unparsable"

    @property
    def rationale(self) -> str:
        """The reply the rating was read from (the explanation, then ``[[N]]``), else the last."""
        return self.replies[-1] if self.replies else ""


def grade(judge: Judge, pairs: Sequence[tuple[str, str]], *, tries: int) -> list[Verdict]:
    """One verdict per (instruction, response) pair, in order.

    Args:
        judge: Completes conversations (a batch per attempt).
        pairs: The instructions and the responses to rate.
        tries: Attempts per pair in all (1 = no retry of an unparsable verdict).

    Raises:
        ValueError: If ``tries`` < 1 or the judge answers a batch with a different count.
    """
    if tries < 1:
        raise ValueError(f"tries is {tries}; give 1 or more")
    conversations = [judge_messages(q, a) for q, a in pairs]
    replies: list[list[str]] = [[] for _ in pairs]
    ratings: list[int | None] = [None] * len(pairs)
    pending = list(range(len(pairs)))
    for _ in range(tries):
        if not pending:
            break
        answers = judge.complete([conversations[i] for i in pending])
        if len(answers) != len(pending):
            raise ValueError(f"the judge answered {len(answers)} of {len(pending)} conversations")
        still = []
        for i, text in zip(pending, answers, strict=True):
            replies[i].append(text)
            ratings[i] = parse_rating(text)
            if ratings[i] is None:
                conversations[i] = nudge_messages(conversations[i], text)
                still.append(i)
        pending = still
    return [Verdict(r, tuple(t)) for r, t in zip(ratings, replies, strict=True)]
