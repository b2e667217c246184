"""The one segment/verdict cache: content-addressed entries in the store.

The golden paths and ids below were written by the caches before they shared ``EntryCache``:
a study resubmitted after the change must find the entries its earlier runs wrote.
"""

from __future__ import annotations

from pathlib import Path

from nativejobs.entry_cache import EntryCache
from nativejobs.judge import Verdict, VerdictCache
from nativejobs.store import FileStore
from nativejobs.translation import EngineConfig, SegmentCache

SEGMENT_PREFIX = "cache/translate/0dd725653e992be4d2bd6e8e/en-es"
HELLO_ID = "03b920f37af3f0b36902427a74684c51406d5da3bbadefd5affb50784c886f08"
HELLO_RETRY_ID = "512a2f9ddb6aeb284b502075f5bb4dc4cecabe69efa6b72c091a496e04588efe"
VERDICT_PREFIX = "cache/judge/5921e81720e5f93ac4c50101"
QA_ID = "2b311c34cdfc2d931c9213a3585929acf56e70239c339a16f636cf7eef5197ba"


def test_segment_cache_keeps_its_paths_and_ids(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "store")
    cache = SegmentCache(store, EngineConfig(kind="llm", model="org/m").cache_identity(), "en", "es")
    cache.put([("Hello", "Hola"), ("Bye", "Adiós")])

    assert cache.prefix == SEGMENT_PREFIX
    assert (cache.segment_id("Hello"), cache.segment_id("Hello", 1)) == (HELLO_ID, HELLO_RETRY_ID)
    assert sorted(store.list("cache")) == [f"{SEGMENT_PREFIX}/9dcbb4f55651c1311977f0f1.jsonl",
                                           f"{SEGMENT_PREFIX}/identity.json"]


def test_verdict_cache_keeps_its_paths_and_ids(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "store")
    cache = VerdictCache(store, {"kind": "openai", "model": "m", "prompt_version": 1})
    cache.put([(("q", "a"), Verdict(4, ("ok [[4]]",)))])

    assert (cache.prefix, cache.entry_id("q", "a")) == (VERDICT_PREFIX, QA_ID)
    assert sorted(store.list("cache")) == [f"{VERDICT_PREFIX}/c637923e43a5e254d2021bbb.jsonl",
                                           f"{VERDICT_PREFIX}/identity.json"]


def test_entries_written_earlier_are_read_back(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "store")
    store.put_jsonl(f"{VERDICT_PREFIX}/old.jsonl", [{"id": QA_ID, "rating": 2, "replies": ["[[2]]"]}])

    cache = VerdictCache(store, {"kind": "openai", "model": "m", "prompt_version": 1})

    assert cache.get("q", "a") == Verdict(2, ("[[2]]",)) and len(cache) == 1


def test_one_shard_per_put_and_the_identity_written_once(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "store")
    cache: EntryCache[int] = EntryCache(store, "cache/x", about={"x": 1}, read=lambda r: r["v"])
    cache.put_rows([{"id": "a", "v": 1}, {"id": "b", "v": 2}])
    cache.put_rows([{"id": "c", "v": 3}])
    cache.put_rows([])

    again: EntryCache[int] = EntryCache(store, "cache/x", about={"x": 1}, read=lambda r: r["v"])
    assert [again.get_entry(i) for i in "abcd"] == [1, 2, 3, None] and len(again) == 3
    assert len([p for p in store.list("cache/x") if p.endswith(".jsonl")]) == 2
    assert store.get_json("cache/x/identity.json") == {"x": 1}
