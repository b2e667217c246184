"""Test builders: small valid spec documents, plans and records that a test tweaks.

``make_spec()`` returns a fresh, valid spec *document* (the dict a YAML file loads to): one
language, a native and a translated condition, one model, one arm, one benchmark. Keyword
overrides replace top-level keys; ``set_path`` changes one nested value by its error-style path
(``arms[0].lr``), so a test reads like the spec error it provokes.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from nativejobs.plan import Plan, Step, build_plan
from nativejobs.spec import ExperimentSpec, parse_spec

__all__ = [
    "arm", "bench", "condition", "get_path", "make_plan", "make_spec", "make_spec_model",
    "record", "set_path", "spec_file", "steps_where",
]

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def condition(name: str, kind: str = "native", engine: str | None = None) -> dict[str, Any]:
    """A condition entry; non-native kinds default to the builder's engine ``eng``."""
    doc: dict[str, Any] = {"name": name, "kind": kind}
    if kind != "native":
        doc["engine"] = engine or "eng"
    return doc


def arm(name: str, lr: float) -> dict[str, Any]:
    return {"name": name, "lr": lr}


def bench(name: str = "qa", kind: str = "xquad", **extra: Any) -> dict[str, Any]:
    return {"name": name, "kind": kind, "path": f"bench/{name}.{{lang}}.json", **extra}


_BASE: dict[str, Any] = {
    "name": "tiny",
    "languages": ["es"],
    "data": {
        "native": {"kind": "files", "path": "data/{lang}.jsonl"},
        "english": {"kind": "files", "path": "data/en.jsonl"},
        "size": 4,
        "seed": 0,
    },
    "engines": {"eng": {"kind": "llm", "model": "org/translator", "max_new_tokens": 64}},
    "conditions": [condition("native"), condition("translated", "translated")],
    "models": [{"name": "m1", "id": "org/model-1"}],
    "training": {"epochs": 1, "effective_batch_size": 2, "micro_batch_size": 2},
    "arms": [arm("a1", 1e-4)],
    "benchmarks": [bench("qa", limit=5)],
    "execution": {"max_parallel": 2, "retries": 1},
}


def make_spec(**overrides: Any) -> dict[str, Any]:
    """A valid spec document; ``overrides`` replace top-level keys (deep-copied)."""
    doc = copy.deepcopy(_BASE)
    doc.update(copy.deepcopy(overrides))
    return doc


def make_spec_model(**overrides: Any) -> ExperimentSpec:
    """``make_spec`` validated (no base_dir, so relative paths stay as written)."""
    return parse_spec(make_spec(**overrides))


def make_plan(**overrides: Any) -> Plan:
    return build_plan(make_spec_model(**overrides))


def _parts(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for m in _PART.finditer(path):
        parts.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
    return parts


def get_path(doc: dict[str, Any], path: str) -> Any:
    node: Any = doc
    for part in _parts(path):
        node = node[part]
    return node


def set_path(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Set ``doc[path] = value`` in place (``training.epochs``, ``arms[0].lr``); returns doc."""
    *head, last = _parts(path)
    node: Any = doc
    for part in head:
        node = node[part]
    node[last] = value
    return doc


def steps_where(plan: Plan, kind: str | None = None, **labels: str) -> list[Step]:
    """The plan's steps of ``kind`` (any when None) whose labels include ``labels``."""
    return [s for s in plan.steps if (kind is None or s.kind == kind)
            and all(s.labels.get(k) == v for k, v in labels.items())]


def record(condition: str, score: float, **cell: Any) -> dict[str, Any]:
    """One flat result record (the DESIGN.md contract); ``cell`` overrides the cell fields."""
    base = {"model": "m1", "arm": "a1", "language": "es", "benchmark": "qa", "metric": "f1",
            "condition": condition, "score": score, "n": 10}
    return {**base, **cell}


def spec_file(folder: Path, text: str, name: str = "spec.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path
