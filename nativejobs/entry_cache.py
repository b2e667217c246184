"""Content-addressed entries in the store: what a model answered, never paid for twice.

The translate step's segment cache and the judge step's verdict cache are both an
``EntryCache``: entries keyed by the hash of what decides them (the model's identity and the
input), under one prefix of the store, written as they are made, one shard per put::

    <prefix>/identity.json      what the entries are of, for people
    <prefix>/<shard>.jsonl      {"id", ...fields}, one row per entry

One shard per put keeps an S3 store to one PUT per batch rather than per entry, and a step
killed mid-way keeps every finished shard. The prefix is hashed from the identity, so every
step asking the same model the same things shares it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from nativejobs.store import Store

__all__ = ["EntryCache", "content_hash"]

V = TypeVar("V")


def content_hash(obj: Any) -> str:
    """sha256 of ``obj``'s canonical JSON (sorted keys, no spaces, text as is)."""
    canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class EntryCache(Generic[V]):
    """Entries under ``prefix``, loaded once on first use and appended per put.

    Args:
        prefix: Where the entries live in the store.
        about: The ``identity.json`` document, written with the first shard.
        read: A stored row → the value ``get`` returns (rows keep only what it needs).
    """

    def __init__(self, store: Store, prefix: str, *, about: dict[str, Any],
                 read: Callable[[dict[str, Any]], V]) -> None:
        self.store, self.prefix, self.about, self.read = store, prefix, about, read
        self._entries: dict[str, V] | None = None

    def _load(self) -> dict[str, V]:
        if self._entries is None:
            self._entries = {}
            for path in self.store.list(self.prefix):
                if path.endswith(".jsonl"):
                    self._entries.update((r["id"], self.read(r)) for r in self.store.get_jsonl(path))
        return self._entries

    def get_entry(self, entry_id: str) -> V | None:
        return self._load().get(entry_id)

    def __len__(self) -> int:
        return len(self._load())

    def put_rows(self, rows: list[dict[str, Any]]) -> None:
        """Store rows (each with its ``id``) atomically as one shard named by their ids."""
        if not rows:
            return
        entries = self._load()
        if not entries and not self.store.exists(f"{self.prefix}/identity.json"):
            self.store.put_json(f"{self.prefix}/identity.json", self.about)
        shard = hashlib.sha256("".join(sorted(r["id"] for r in rows)).encode()).hexdigest()[:24]
        self.store.put_jsonl(f"{self.prefix}/{shard}.jsonl", rows)
        entries.update((r["id"], self.read(r)) for r in rows)
