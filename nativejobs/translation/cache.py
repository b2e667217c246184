"""The per-segment translation cache in the store: no segment is ever paid for twice.

An ``EntryCache`` keyed by the engine's identity (kind, model and what else decides its
output, see ``EngineConfig.cache_identity``), the source and target language, the text and
the attempt. Every step translating the same pair with the same engine (a re-planned step, the
round trip's back-translation, the mixture) shares the prefix::

    cache/translate/<engine-hash>/<src>-<tgt>/identity.json      the engine identity, for people
    cache/translate/<engine-hash>/<src>-<tgt>/<shard>.jsonl      {"id", "attempt", "source", "translation"}
"""

from __future__ import annotations

from typing import Any

from nativejobs.entry_cache import EntryCache, content_hash
from nativejobs.store import Store

__all__ = ["SegmentCache"]


class SegmentCache(EntryCache[str]):
    """Translations of one engine for one language pair, loaded once and appended per batch."""

    def __init__(self, store: Store, identity: dict[str, Any], src: str, tgt: str) -> None:
        super().__init__(store, f"cache/translate/{content_hash(identity)[:24]}/{src}-{tgt}",
                         about={"engine": identity, "source_language": src, "target_language": tgt},
                         read=lambda row: row["translation"])
        self.identity, self.src, self.tgt = identity, src, tgt

    def segment_id(self, text: str, attempt: int = 0) -> str:
        return content_hash([self.identity, self.src, self.tgt, attempt, text])

    def get(self, text: str, attempt: int = 0) -> str | None:
        return self.get_entry(self.segment_id(text, attempt))

    def put(self, pairs: list[tuple[str, str]], attempt: int = 0) -> None:
        """Store (source, translation) pairs made by one engine call, atomically as one shard."""
        self.put_rows([{"id": self.segment_id(s, attempt), "attempt": attempt, "source": s,
                        "translation": t} for s, t in pairs])
