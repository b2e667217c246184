"""The verdict cache in the store: a retried or re-planned judge step never pays twice.

An entry is keyed by the judge's identity (``JudgeConfig.identity``: model, decoding, tries,
prompt version), the instruction and the response. Entries are written as they are made, one
shard per batch of verdicts::

    cache/judge/<identity-hash>/identity.json     the judge identity, for people
    cache/judge/<identity-hash>/<shard>.jsonl     {"id", "rating", "replies"}

A step killed mid-way keeps every finished shard; renaming a judge, moving its server or
changing its batch size reuses the entries.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from nativejobs.judge.grading import Verdict
from nativejobs.store import Store

__all__ = ["VerdictCache"]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class VerdictCache:
    """Verdicts of one judge identity, loaded once and appended per batch."""

    def __init__(self, store: Store, identity: dict[str, Any]) -> None:
        self.store, self.identity = store, identity
        self.prefix = f"cache/judge/{_sha(_canonical(identity))[:24]}"
        self._entries: dict[str, Verdict] | None = None

    def entry_id(self, instruction: str, response: str) -> str:
        return _sha(_canonical([self.identity, instruction, response]))

    def _load(self) -> dict[str, Verdict]:
        if self._entries is None:
            self._entries = {}
            for path in self.store.list(self.prefix):
                if path.endswith(".jsonl"):
                    for row in self.store.get_jsonl(path):
                        self._entries[row["id"]] = Verdict(row["rating"], tuple(row["replies"]))
        return self._entries

    def get(self, instruction: str, response: str) -> Verdict | None:
        return self._load().get(self.entry_id(instruction, response))

    def __len__(self) -> int:
        return len(self._load())

    def put(self, made: list[tuple[tuple[str, str], Verdict]]) -> None:
        """Store ((instruction, response), verdict) pairs of one batch, atomically as one shard."""
        if not made:
            return
        entries = self._load()
        if not entries and not self.store.exists(f"{self.prefix}/identity.json"):
            self.store.put_json(f"{self.prefix}/identity.json", {"judge": self.identity})
        rows = [{"id": self.entry_id(*pair), "rating": v.rating, "replies": list(v.replies)}
                for pair, v in made]
        shard = _sha("".join(sorted(r["id"] for r in rows)))[:24]
        self.store.put_jsonl(f"{self.prefix}/{shard}.jsonl", rows)
        entries.update((r["id"], v) for r, (_, v) in zip(rows, made, strict=True))
