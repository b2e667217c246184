"""Spec → Plan: a DAG of content-addressed steps. Pure: no I/O, no backend.

A step's key is ``sha256(kind, version, params, input keys)``; anything that changes a step's
output is in its params or its inputs, and nothing else is (labels such as a condition's name
live in ``Step.labels`` so renaming a condition reruns nothing).

    prepare native(lang) ─┬──────────────────────────────────────┬─▶ train(model, arm) ─▶ evaluate ─┐
      │                   └─▶ translate(lang→en) ─▶ translate(en→lang) (round trip)    ...    ├─▶ summarize
      └▶ prepare English(lang, same size) ─▶ translate(en→lang) ─┘                            ┘
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from nativejobs.spec import ConditionSpec, ExperimentSpec
from nativejobs.steps import VERSIONS

__all__ = ["Plan", "Step", "StepInput", "build_plan", "canonical_json", "step_key"]


@dataclass(frozen=True)
class StepInput:
    """One input of a step: an artifact (file or folder) of an upstream step."""

    name: str
    kind: str
    key: str
    artifact: str

    @property
    def path(self) -> str:
        return f"steps/{self.kind}/{self.key}/{self.artifact}"


@dataclass(frozen=True)
class Step:
    """One unit of work; ``key`` addresses its outputs in the store."""

    kind: str
    key: str
    params: dict[str, Any] = field(hash=False, compare=False)
    inputs: tuple[StepInput, ...] = ()
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.key}"

    @property
    def title(self) -> str:
        return " ".join(f"{v}" for v in self.labels.values()) or self.key[:8]

    def definition(self) -> dict[str, Any]:
        """What the step entrypoint reads from ``_step.json``."""
        return {"kind": self.kind, "key": self.key, "version": VERSIONS[self.kind],
                "params": self.params, "labels": self.labels,
                "inputs": [vars(i) for i in self.inputs]}


@dataclass(frozen=True)
class Plan:
    """Steps in dependency order (every step after its inputs)."""

    name: str
    steps: tuple[Step, ...]

    def by_key(self) -> dict[str, Step]:
        return {s.key: s for s in self.steps}

    def counts(self) -> Counter[str]:
        return Counter(s.kind for s in self.steps)

    def downstream(self, keys: set[str]) -> set[str]:
        """Keys of every step that (transitively) consumes one of ``keys``."""
        out: set[str] = set()
        for s in self.steps:  # dependency order makes one pass enough
            if any(i.key in keys or i.key in out for i in s.inputs):
                out.add(s.key)
        return out

    @property
    def summary(self) -> Step:
        return self.steps[-1]


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def step_key(kind: str, params: dict[str, Any], inputs: tuple[StepInput, ...]) -> str:
    doc = {"kind": kind, "v": VERSIONS[kind], "p": params,
           "in": sorted(f"{i.name}={i.path}" for i in inputs)}
    return hashlib.sha256(canonical_json(doc).encode()).hexdigest()[:24]


def _step(kind: str, params: dict[str, Any], inputs: tuple[StepInput, ...] = (),
          **labels: str) -> Step:
    return Step(kind, step_key(kind, params, inputs), params, inputs, labels)


def _out(name: str, step: Step, artifact: str) -> StepInput:
    return StepInput(name, step.kind, step.key, artifact)


def _prepare(spec: ExperimentSpec, lang: str) -> tuple[Step, Step]:
    """The native sample, and the English sample matched to its size (its own step, so an edit
    to the English pool leaves native training alone)."""
    common = {"language": lang, "size": spec.data.size, "seed": spec.data.seed}
    native = _step("prepare", {**common, "role": "native",
                               "source": spec.data.native.model_dump(mode="json")},
                   language=lang, what="native sample")
    english = _step("prepare", {**common, "role": "english",
                                "source": spec.data.english.model_dump(mode="json")},
                    (_out("match", native, "data.jsonl"),), language=lang, what="English sample")
    return native, english


def _translate(spec: ExperimentSpec, engine: str, source: StepInput, src: str, tgt: str,
               **labels: str) -> Step:
    params = {"engine": spec.engines[engine].model_dump(mode="json"), "source_language": src,
              "target_language": tgt}
    return _step("translate", params, (source,), what=f"translate {src}→{tgt}", **labels)


def _condition_data(spec: ExperimentSpec, cond: ConditionSpec, native: Step, english: Step,
                    lang: str) -> tuple[StepInput, list[Step]]:
    """The training-data artifact of one condition and the translate steps that make it."""
    if cond.kind == "native":
        return _out("data", native, "data.jsonl"), []
    assert cond.engine is not None  # the spec guarantees it for non-native conditions
    labels = {"language": lang, "condition": cond.name}
    if cond.kind == "translated":
        t = _translate(spec, cond.engine, _out("source", english, "data.jsonl"), "en", lang, **labels)
        return _out("data", t, "translated.jsonl"), [english, t]
    pivot = _translate(spec, cond.engine, _out("source", native, "data.jsonl"), lang, "en", **labels)
    back = _translate(spec, cond.engine, _out("source", pivot, "translated.jsonl"), "en", lang,
                      **labels)
    return _out("data", back, "translated.jsonl"), [pivot, back]


def _add(steps: dict[str, Step], *new: Step) -> None:
    for s in new:
        steps.setdefault(s.key, s)  # shared work is planned once


def build_plan(spec: ExperimentSpec) -> Plan:
    """The DAG for ``spec``; the same spec always gives the same keys."""
    steps: dict[str, Step] = {}
    evaluations: list[Step] = []
    for lang in spec.languages:
        native, english = _prepare(spec, lang)
        _add(steps, native)
        benches = [b.model_dump(mode="json", exclude={"languages"}) for b in spec.benchmarks
                   if b.languages is None or lang in b.languages]
        for cond in spec.conditions:
            data, made = _condition_data(spec, cond, native, english, lang)
            _add(steps, *made)
            for model in spec.models:
                for arm in spec.arms:
                    labels = {"model": model.name, "language": lang, "condition": cond.name,
                              "arm": arm.name}
                    train = _step("train", {"model": model.model_dump(mode="json", exclude={"name"}),
                                            "training": spec.training.model_dump(mode="json"),
                                            "lr": arm.lr, "mode": arm.mode, "language": lang},
                                  (data,), **labels)
                    ev = _step("evaluate", {"model": model.model_dump(mode="json", exclude={"name"}),
                                            "language": lang, "benchmarks": benches},
                               (_out("adapter", train, "adapter"),), **labels)
                    _add(steps, train, ev)
                    evaluations.append(ev)
    summary = _summarize(spec, evaluations)
    _add(steps, summary)
    return Plan(spec.name, tuple(steps.values()))


def _summarize(spec: ExperimentSpec, evaluations: list[Step]) -> Step:
    cells = [{"evaluate": ev.key, **ev.labels} for ev in evaluations]
    conditions = {c.name: c.kind for c in spec.conditions}
    inputs = tuple(_out(f"cell{i}", ev, "records.json") for i, ev in enumerate(evaluations))
    return _step("summarize", {"experiment": spec.name, "cells": cells, "conditions": conditions},
                 inputs, what="summarize")
