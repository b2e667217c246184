"""The verdict cache in the store: a retried or re-planned judge step never pays twice.

An ``EntryCache`` keyed by the judge's identity (``JudgeConfig.identity``: model, decoding,
tries, prompt version), the instruction and the response; renaming a judge, moving its server
or changing its batch size reuses the entries::

    cache/judge/<identity-hash>/identity.json     the judge identity, for people
    cache/judge/<identity-hash>/<shard>.jsonl     {"id", "rating", "replies"}
"""

from __future__ import annotations

from typing import Any

from nativejobs.entry_cache import EntryCache, content_hash
from nativejobs.judge.grading import Verdict
from nativejobs.store import Store

__all__ = ["VerdictCache"]


class VerdictCache(EntryCache[Verdict]):
    """Verdicts of one judge identity, loaded once and appended per batch."""

    def __init__(self, store: Store, identity: dict[str, Any]) -> None:
        super().__init__(store, f"cache/judge/{content_hash(identity)[:24]}", about={"judge": identity},
                         read=lambda row: Verdict(row["rating"], tuple(row["replies"])))
        self.identity = identity

    def entry_id(self, instruction: str, response: str) -> str:
        return content_hash([self.identity, instruction, response])

    def get(self, instruction: str, response: str) -> Verdict | None:
        return self.get_entry(self.entry_id(instruction, response))

    def put(self, made: list[tuple[tuple[str, str], Verdict]]) -> None:
        """Store ((instruction, response), verdict) pairs of one batch, atomically as one shard."""
        self.put_rows([{"id": self.entry_id(*pair), "rating": v.rating, "replies": list(v.replies)}
                       for pair, v in made])
