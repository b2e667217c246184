"""The translate step with a counting fake engine: cache, resume, fields, formatting, policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nativejobs.steps.translate import TranslateStep
from nativejobs.store import Store
from tests.unit.translation.helpers import FakeTranslator, engine_params, make_ctx

SRC = "steps/prepare/src/data.jsonl"
BAD = "Say hello to the whole wide world, please."
ROWS = [
    {"id": "a", "instruction": BAD, "input": "", "output": "Hello, world!"},
    {"id": "b", "instruction": "List two fruits.", "input": "",
     "output": "Two fruits:\n- apple\n- pear\n\n```\nfruits = ['apple', 'pear']\n```"},
    {"id": "c", "instruction": BAD, "input": "Politely.", "output": "42"},
]


def run(store: Store, tmp_path: Path, fake: FakeTranslator, *, key: str = "k1",
        identify: Any = None, **engine: Any) -> dict[str, Any]:
    ctx = make_ctx(store, tmp_path, kind="translate", key=key,
                   params={"engine": engine_params(**engine), "source_language": "en",
                           "target_language": "es"},
                   inputs={"source": {"kind": "prepare", "key": "src", "artifact": "data.jsonl"}})
    step = TranslateStep(ctx, load=lambda cfg: fake)
    step.setup()
    if identify is not None:
        step.checker.identify = identify
    stats = step.run()
    step.cleanup()
    return stats


def out(store: Store, key: str = "k1") -> list[dict[str, str]]:
    return store.get_jsonl(f"steps/translate/{key}/translated.jsonl")


@pytest.fixture
def source(store: Store) -> Store:
    store.put_jsonl(SRC, ROWS)
    return store


def test_fields_translated_separately_empty_kept_formatting_kept(source: Store, tmp_path: Path) -> None:
    fake = FakeTranslator()
    stats = run(source, tmp_path, fake, identify=lambda t: "es")

    rows = out(source)
    assert [r["id"] for r in rows] == ["a", "b", "c"]
    assert rows[0] == {"id": "a", "instruction": f"{BAD.upper()} [es]", "input": "",
                       "output": "HELLO, WORLD! [es]"}
    # The code block is copied; the prose before it is one piece (field mode).
    assert rows[1]["output"] == ("TWO FRUITS:\n- APPLE\n- PEAR [es]\n\n"
                                 "```\nfruits = ['apple', 'pear']\n```")
    assert rows[2]["output"] == "42"  # nothing to translate
    # Every distinct piece once, whatever the number of rows it appears in.
    sent = [t for call in fake.calls for t in call[3]]
    assert len(sent) == len(set(sent)) == stats["segments"] == stats["segments_translated"]
    assert stats["engine_calls"] == len(fake.calls) > 0
    assert stats["cached"] == 0


def test_a_second_run_makes_zero_engine_calls(source: Store, tmp_path: Path) -> None:
    first = run(source, tmp_path, FakeTranslator(), key="k1")
    again = FakeTranslator()
    second = run(source, tmp_path, again, key="k2")  # a re-planned step: another key

    assert first["engine_calls"] > 0
    assert again.calls == [] and second["engine_calls"] == 0
    assert second["cached"] == first["segments"]
    assert out(source, "k2") == out(source, "k1")


def test_a_killed_step_keeps_finished_segments(source: Store, tmp_path: Path) -> None:
    killed = FakeTranslator(batch_size=2, fail_after=1)
    with pytest.raises(KeyboardInterrupt):
        run(source, tmp_path, killed, batch_size=2)
    resumed = FakeTranslator(batch_size=2)
    stats = run(source, tmp_path, resumed, batch_size=2)

    assert stats["cached"] == killed.segments == 2
    assert resumed.segments == stats["segments"] - 2


def test_lines_mode_translates_list_items_one_by_one(source: Store, tmp_path: Path) -> None:
    run(source, tmp_path, FakeTranslator(), segmentation="lines")
    assert out(source)[1]["output"] == ("TWO FRUITS: [es]\n- APPLE [es]\n- PEAR [es]\n\n"
                                        "```\nfruits = ['apple', 'pear']\n```")


def wrong_language(text: str) -> str:
    return "en" if text.startswith("Say hello") else "es"


def test_keep_policy_counts_flagged_items(source: Store, tmp_path: Path) -> None:
    stats = run(source, tmp_path, FakeTranslator(bad=frozenset({BAD})), identify=wrong_language)

    assert stats["flagged_rows"] == 2 and stats["flags"]["language"] == 2
    assert stats["rows_out"] == 3 and stats["dropped_rows"] == 0
    flagged = source.get_jsonl("steps/translate/k1/flagged.jsonl")
    assert [f["id"] for f in flagged] == ["a", "c"]
    assert flagged[0]["flags"] == {"instruction": ["language"]}


def test_drop_policy_leaves_flagged_items_out(source: Store, tmp_path: Path) -> None:
    stats = run(source, tmp_path, FakeTranslator(bad=frozenset({BAD})), identify=wrong_language,
                quality={"policy": "drop"})

    assert [r["id"] for r in out(source)] == ["b"]
    assert stats["dropped_rows"] == 2


def test_retry_policy_translates_flagged_fields_again(source: Store, tmp_path: Path) -> None:
    fake = FakeTranslator(bad=frozenset({BAD}))
    stats = run(source, tmp_path, fake, identify=wrong_language,
                quality={"policy": "retry", "retries": 2})

    assert out(source)[0]["instruction"] == f"{BAD.upper()} [es1]"
    assert stats["flagged_rows_first_pass"] == 2 and stats["flagged_rows"] == 0
    assert [c[2] for c in fake.calls][-1] == 1  # the retry is attempt 1, only the bad piece
    assert fake.calls[-1][3] == [BAD]
    # The retry is cached too: running again pays nothing.
    again = FakeTranslator(bad=frozenset({BAD}))
    run(source, tmp_path, again, key="k2", identify=wrong_language,
        quality={"policy": "retry", "retries": 2})
    assert again.calls == []
