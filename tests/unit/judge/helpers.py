"""A scripted judge for the unit tests: replies come from a function of the conversation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

Conversation = list[dict[str, str]]


@dataclass
class ScriptedJudge:
    """Answers each conversation with ``reply(conversation)``; counts what it was sent."""

    reply: Callable[[Conversation], str]
    batches: list[int] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=lambda: {"requests": 0})
    closed: bool = False

    def complete(self, conversations: list[Conversation]) -> list[str]:
        self.batches.append(len(conversations))
        self.usage["requests"] += len(conversations)
        return [self.reply(c) for c in conversations]

    def close(self) -> None:
        self.closed = True


def by_answer(script: dict[str, list[str]]) -> Callable[[Conversation], str]:
    """Replies keyed by a marker in the rated answer; the n-th attempt gets the n-th reply."""

    def reply(conversation: Conversation) -> str:
        user = conversation[1]["content"]
        marker = next(m for m in script if m in user)
        attempt = sum(1 for m in conversation if m["role"] == "assistant")
        return script[marker][min(attempt, len(script[marker]) - 1)]

    return reply
