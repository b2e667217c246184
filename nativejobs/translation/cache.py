"""The per-segment translation cache in the store: no segment is ever paid for twice.

An entry is keyed by the engine's identity (kind, model and what else decides its output, see
``EngineConfig.cache_identity``), the source and target language, the text and the attempt.
Entries are written as they are made, one shard per engine call::

    cache/translate/<engine-hash>/<src>-<tgt>/identity.json      the engine identity, for people
    cache/translate/<engine-hash>/<src>-<tgt>/<shard>.jsonl      {"id", "attempt", "source", "translation"}

One shard per call keeps an S3 store to one PUT per batch rather than per segment, and a step
killed mid-way keeps every finished shard. Every step translating the same pair with the same
engine (a re-planned step, the round trip's back-translation, the mixture) shares the prefix.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from nativejobs.store import Store

__all__ = ["SegmentCache"]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class SegmentCache:
    """Translations of one engine for one language pair, loaded once and appended per batch."""

    def __init__(self, store: Store, identity: dict[str, Any], src: str, tgt: str) -> None:
        self.store, self.identity, self.src, self.tgt = store, identity, src, tgt
        self.prefix = f"cache/translate/{_sha(_canonical(identity))[:24]}/{src}-{tgt}"
        self._entries: dict[str, str] | None = None

    def segment_id(self, text: str, attempt: int = 0) -> str:
        return _sha(_canonical([self.identity, self.src, self.tgt, attempt, text]))

    def _load(self) -> dict[str, str]:
        if self._entries is None:
            self._entries = {}
            for path in self.store.list(self.prefix):
                if path.endswith(".jsonl"):
                    for row in self.store.get_jsonl(path):
                        self._entries[row["id"]] = row["translation"]
        return self._entries

    def get(self, text: str, attempt: int = 0) -> str | None:
        return self._load().get(self.segment_id(text, attempt))

    def __len__(self) -> int:
        return len(self._load())

    def put(self, pairs: list[tuple[str, str]], attempt: int = 0) -> None:
        """Store (source, translation) pairs made by one engine call, atomically as one shard."""
        if not pairs:
            return
        entries = self._load()
        if not entries and not self.store.exists(f"{self.prefix}/identity.json"):
            self.store.put_json(f"{self.prefix}/identity.json", {
                "engine": self.identity, "source_language": self.src, "target_language": self.tgt})
        rows = [{"id": self.segment_id(s, attempt), "attempt": attempt, "source": s,
                 "translation": t} for s, t in pairs]
        shard = _sha("".join(sorted(r["id"] for r in rows)))[:24]
        self.store.put_jsonl(f"{self.prefix}/{shard}.jsonl", rows)
        entries.update((r["id"], r["translation"]) for r in rows)
