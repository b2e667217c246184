"""The per-segment cache: keyed by engine identity, languages, text and attempt; shared."""

from __future__ import annotations

from nativejobs.store import Store
from nativejobs.translation import EngineConfig, SegmentCache

IDENT = EngineConfig(kind="llm", model="org/m").cache_identity()


def test_put_then_get_in_a_fresh_cache(store: Store) -> None:
    SegmentCache(store, IDENT, "en", "es").put([("Hello", "Hola"), ("Bye", "Adiós")])

    again = SegmentCache(store, IDENT, "en", "es")

    assert (again.get("Hello"), again.get("Bye"), again.get("Other")) == ("Hola", "Adiós", None)
    assert len(again) == 2


def test_keys_separate_pairs_engines_and_attempts(store: Store) -> None:
    SegmentCache(store, IDENT, "en", "es").put([("Hello", "Hola")])

    assert SegmentCache(store, IDENT, "en", "ru").get("Hello") is None
    other = EngineConfig(kind="llm", model="org/other").cache_identity()
    assert SegmentCache(store, other, "en", "es").get("Hello") is None
    assert SegmentCache(store, IDENT, "en", "es").get("Hello", attempt=1) is None


def test_batch_size_and_endpoint_do_not_change_the_identity() -> None:
    a = EngineConfig(kind="openai", model="m", endpoint="http://a/v1", batch_size=2)
    b = EngineConfig(kind="openai", model="m", endpoint="http://b/v1", batch_size=64)

    assert a.cache_identity() == b.cache_identity()
    assert a.cache_identity() != EngineConfig(kind="openai", model="m", endpoint="http://a/v1",
                                              max_new_tokens=7).cache_identity()


def test_one_shard_per_put(store: Store) -> None:
    cache = SegmentCache(store, IDENT, "en", "es")
    cache.put([("a", "A"), ("b", "B")])
    cache.put([("c", "C")])

    shards = [p for p in store.list(cache.prefix) if p.endswith(".jsonl")]
    assert len(shards) == 2
    assert store.exists(f"{cache.prefix}/identity.json")
