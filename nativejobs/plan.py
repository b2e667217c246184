"""Spec → Plan: a DAG of content-addressed steps. Pure: no I/O, no backend.

A step's key is ``sha256(kind, version, params, input keys)``; anything that changes a step's
output is in its params or its inputs, and nothing else is (labels such as a condition's name
live in ``Step.labels`` so renaming a condition reruns nothing).

Per target language, for ``mode: mono`` arms::

    prepare native(lang) ─┬─────────────────────────────────────────┬▶ train ─▶ evaluate(lang) ─┐
      │                   ├▶ translate(lang→en) ─▶ translate(en→lang) ┤  (round trip; pivot)     │
      │                   └▶ prepare condition (released/files set) ──┤                          ├▶ summarize
      └▶ prepare English(lang, same size) ─▶ translate(en→lang) ──────┘                          │
                                                                                                 │
Once per condition, for ``mode: multi`` arms, over ``data.mixture.languages``::                  │
                                                                                                 │
    prepare mixture (N each; parts/{l}) ─┬─(native)──────────────────┬▶ train ─▶ evaluate(lang) ─┘
                                         └▶ per language l: the same   │     for every target lang
                                            recipe on part l ─▶ prepare mix

A condition backed by finished translations (``source``: the authors' released sets or files)
is a ``prepare`` step that reads them: no translate step, and its params name the file set.

An evaluate step with ``open_qa`` benchmarks feeds one ``judge`` step per judge that rates them
(its input: those benchmarks' predictions); summarize reads the judges' records too::

    evaluate(lang) ─┬▶ judge(gpt4) ──┬▶ summarize
                    └▶ judge(local) ─┘
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from nativejobs.benchmarks.catalog import HARNESS_KINDS, HARNESS_VERSION, TASK_VERSIONS, harness_benchmark
from nativejobs.host_inputs import local_inputs, names_host_file
from nativejobs.round_trips import pairs_from_conditions
from nativejobs.spec import ArmSpec, ConditionSpec, ExperimentSpec, ModelSpec
from nativejobs.versions import JUDGE_PROMPT_VERSION, STEP_VERSIONS, answers_input

__all__ = [
    "IMAGE_ROLE", "MULTI", "Plan", "Step", "StepInput", "StepNeeds", "build_plan", "canonical_json",
    "engine_params", "estimate_gpu_hours", "judge_params", "step_key", "step_needs", "uses_gpu",
]

MULTI = "multi"  # the language of a step that serves the multilingual mixture


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
class StepNeeds:
    """What running a step asks of the machine, computed once by the planner from the spec.

    Backends and the Job renderer read only this (and their own settings): they never look at
    the spec or at step kinds.
    """

    gpus: int = 0
    cpu: str = "2"  # a Kubernetes quantity: cores ("4") or millicores ("500m")
    memory: str = "8Gi"
    timeout_s: int = 24 * 3600
    image_role: str = "controller"  # which image runs it: translate | train | eval | controller
    torch: bool = False  # loads torch: the worker image; its thread count follows ``cpu``
    shared_memory: bool = False  # loads a model: vLLM and torch workers share tensors via /dev/shm
    # The API key a remote service needs: (environment variable, where the spec defines the
    # service, e.g. "engines.gpt"), by name only.
    secret_env: tuple[tuple[str, str], ...] = ()
    host_inputs: bool = False  # its params name files on the submitter's disk (host_inputs.py)


@dataclass(frozen=True)
class Step:
    """One unit of work; ``key`` addresses its outputs in the store."""

    kind: str
    key: str
    params: dict[str, Any] = field(hash=False, compare=False)
    inputs: tuple[StepInput, ...] = ()
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    needs: StepNeeds = field(default_factory=StepNeeds, hash=False, compare=False)

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.key}"

    @property
    def title(self) -> str:
        return " ".join(f"{v}" for v in self.labels.values()) or self.key[:8]

    def definition(self) -> dict[str, Any]:
        """What the step entrypoint reads from ``_step.json``."""
        return {"kind": self.kind, "key": self.key, "version": STEP_VERSIONS[self.kind],
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
    doc = {"kind": kind, "v": STEP_VERSIONS[kind], "p": params,
           "in": sorted(f"{i.name}={i.path}" for i in inputs)}
    return hashlib.sha256(canonical_json(doc).encode()).hexdigest()[:24]


def _step(kind: str, params: dict[str, Any], inputs: tuple[StepInput, ...] = (),
          **labels: str) -> Step:
    return Step(kind, step_key(kind, params, inputs), params, inputs, labels)


def _out(name: str, step: Step, artifact: str) -> StepInput:
    return StepInput(name, step.kind, step.key, artifact)


Artifact = tuple[Step, str]  # an upstream step and the name of one of its outputs


def _as(name: str, art: Artifact) -> StepInput:
    return _out(name, art[0], art[1])


def _native(spec: ExperimentSpec, lang: str) -> Step:
    """The native sample of one language."""
    return _step("prepare", {"language": lang, "size": spec.data.size, "seed": spec.data.seed,
                             "role": "native", "source": spec.data.native.identity()},
                 language=lang, what="native sample")


def _english(spec: ExperimentSpec, lang: str, match: Artifact, **labels: str) -> Step:
    """The English sample matched to a native sample's size (its own step, so an edit to the
    English pool leaves native training alone)."""
    return _step("prepare", {"language": lang, "size": spec.data.size, "seed": spec.data.seed,
                             "role": "english", "source": spec.data.english.identity()},
                 (_as("match", match),), language=lang, what="English sample", **labels)


def engine_params(spec: ExperimentSpec, engine: str) -> dict[str, Any]:
    """An engine as translate params: unset optional fields left out, so adding one moves no key."""
    return spec.engines[engine].model_dump(mode="json", exclude_none=True)


def _translate(spec: ExperimentSpec, engine: str, source: Artifact, src: str, tgt: str,
               **labels: str) -> Step:
    params = {"engine": engine_params(spec, engine), "source_language": src, "target_language": tgt}
    return _step("translate", params, (_as("source", source),), what=f"translate {src}→{tgt}",
                 **labels)


def _finished(spec: ExperimentSpec, cond: ConditionSpec, lang: str, native: Artifact,
              labels: dict[str, str]) -> Step:
    """A condition read from finished translations, as many items as the native sample."""
    assert cond.source is not None
    what = f"{cond.source.system or 'files'} {cond.kind.replace('_', ' ')} set"
    return _step("prepare", {"language": lang, "role": "condition", "variant": cond.kind,
                             "source": cond.source.identity(), "seed": spec.data.seed},
                 (_as("match", native),), **labels, what=what)


def _condition_data(spec: ExperimentSpec, cond: ConditionSpec, lang: str, native: Artifact,
                    **scope: str) -> tuple[Artifact, list[Step]]:
    """The training data of one condition in one language, and the steps that make it.

    ``native`` is the native sample it is matched to (the language's, or a mixture part).
    """
    labels = {"language": lang, "condition": cond.name, **scope}
    if cond.kind == "native":
        return native, []
    if cond.source is not None:
        step = _finished(spec, cond, lang, native, labels)
        return (step, "data.jsonl"), [step]
    assert cond.engine is not None  # the spec guarantees an engine or a source
    if cond.kind == "translated":
        english = _english(spec, lang, native, **scope)
        t = _translate(spec, cond.engine, (english, "data.jsonl"), "en", lang, **labels)
        return (t, "translated.jsonl"), [english, t]
    pivot = _translate(spec, cond.engine, native, lang, "en", **labels)
    back = _translate(spec, cond.engine, (pivot, "translated.jsonl"), "en", lang, **labels)
    return (back, "translated.jsonl"), [pivot, back]


def _mixture_data(spec: ExperimentSpec, cond: ConditionSpec) -> tuple[Artifact, list[Step]]:
    """The multilingual mixture of one condition: N native items per mixture language, or each
    language's N items made by the condition's recipe (drawing its own English items), mixed."""
    mix = spec.data.mixture
    langs = list(mix.languages)
    native = _step("prepare", {"role": "mixture", "languages": langs, "size": mix.size,
                               "data_size": spec.data.size, "seed": spec.data.seed,
                               "source": spec.data.native.identity()},
                   what="native mixture")
    if cond.kind == "native":
        return (native, "data.jsonl"), [native]
    steps, parts = [native], []
    for lang in langs:
        data, made = _condition_data(spec, cond, lang, (native, f"parts/{lang}.jsonl"),
                                     scope="mixture")
        steps += made
        parts.append(_as(f"part_{lang}", data))
    mixed = _step("prepare", {"role": "mix", "languages": langs}, tuple(parts),
                  condition=cond.name, what="mixture")
    return (mixed, "data.jsonl"), [*steps, mixed]


def _add(steps: dict[str, Step], *new: Step) -> None:
    for s in new:
        steps.setdefault(s.key, s)  # shared work is planned once


def _arms(spec: ExperimentSpec, cond: ConditionSpec, mode: str) -> list[ArmSpec]:
    return [a for a in spec.arms if a.mode == mode
            and (a.conditions is None or cond.name in a.conditions)]


_UNSET_LEFT_OUT = ("dataset", "revision", "chat_template")  # fields newer than the first keys


def _benchmarks(spec: ExperimentSpec, lang: str) -> list[dict[str, Any]]:
    """The evaluate step's benchmarks: judges are left out (an edit to them re-judges, it does
    not re-answer); open_qa answers in the fine-tuning template, which is in. Harness kinds
    carry the pinned lm-eval version and, for the project's own tasks, their task version;
    optional fields left unset stay out, so adding one to the spec moves no existing key."""
    out = []
    for b in spec.benchmarks:
        if b.languages is None or lang in b.languages:
            unset = {f for f in _UNSET_LEFT_OUT if getattr(b, f) in (None, False)}
            params = b.model_dump(mode="json", exclude={"languages", "judges", *unset})
            if b.kind == "open_qa":
                params["template"] = spec.training.template
            if b.kind in HARNESS_KINDS:
                params["harness"] = HARNESS_VERSION
                if (version := TASK_VERSIONS.get(harness_benchmark(b.kind).tasks[lang])) is not None:
                    params["task_version"] = version
            out.append(params)
    return out


def _train(spec: ExperimentSpec, model: ModelSpec, arm: ArmSpec, data: Artifact, lang: str,
           labels: dict[str, str]) -> Step:
    return _step("train", {"model": model.model_dump(mode="json", exclude={"name"}),
                           "training": spec.training.model_dump(mode="json"),
                           "lr": arm.lr, "mode": arm.mode, "language": lang},
                 (_as("data", data),), **labels)


def _evaluate(spec: ExperimentSpec, model: ModelSpec, train: Step, lang: str,
              labels: dict[str, str]) -> Step:
    return _step("evaluate", {"model": model.model_dump(mode="json", exclude={"name"}),
                              "language": lang, "benchmarks": _benchmarks(spec, lang)},
                 (_out("adapter", train, "adapter"),), **labels)


def judge_params(spec: ExperimentSpec, judge: str) -> dict[str, Any]:
    """A judge as judge-step params: unset optional fields left out, so adding one moves no key."""
    return spec.judges[judge].model_dump(mode="json", exclude_none=True)


def _judges(spec: ExperimentSpec, ev: Step, lang: str) -> list[Step]:
    """One judge step per judge that rates some open_qa benchmark of ``ev``'s language."""
    out = []
    for name in spec.judges:
        benches = [b.name for b in spec.benchmarks if name in b.judge_names(spec.judges)
                   and (b.languages is None or lang in b.languages)]
        if not benches:
            continue
        inputs = tuple(_out(answers_input(b), ev, f"predictions/{b}.jsonl") for b in benches)
        params = {"name": name, "judge": judge_params(spec, name), "prompt_version": JUDGE_PROMPT_VERSION,
                  "language": lang, "benchmarks": benches}
        out.append(_step("judge", params, inputs, **ev.labels, judge=name))
    return out


def _cell(model: ModelSpec, lang: str, cond: ConditionSpec, arm: ArmSpec) -> dict[str, str]:
    return {"model": model.name, "language": lang, "condition": cond.name, "arm": arm.name}


def build_plan(spec: ExperimentSpec) -> Plan:
    """The DAG for ``spec``; the same spec always gives the same keys."""
    steps: dict[str, Step] = {}
    evaluations: list[Step] = []
    judgements: dict[str, tuple[Step, Step]] = {}  # judge key -> (evaluate, judge)

    def evaluated(ev: Step, lang: str) -> None:
        _add(steps, ev)
        evaluations.append(ev)
        for judge in _judges(spec, ev, lang):
            _add(steps, judge)
            judgements.setdefault(judge.key, (ev, judge))

    for lang in spec.languages:
        native = _native(spec, lang)
        _add(steps, native)
        for cond in spec.conditions:
            arms = _arms(spec, cond, "mono")
            if not arms:
                continue
            data, made = _condition_data(spec, cond, lang, (native, "data.jsonl"))
            _add(steps, *made)
            for model in spec.models:
                for arm in arms:
                    labels = _cell(model, lang, cond, arm)
                    train = _train(spec, model, arm, data, lang, labels)
                    _add(steps, train)
                    evaluated(_evaluate(spec, model, train, lang, labels), lang)
    for cond in spec.conditions:
        arms = _arms(spec, cond, "multi")
        if not arms:
            continue
        data, made = _mixture_data(spec, cond)
        _add(steps, *made)
        for model in spec.models:
            for arm in arms:
                train = _train(spec, model, arm, data, MULTI, _cell(model, MULTI, cond, arm))
                _add(steps, train)
                for lang in spec.languages:
                    evaluated(_evaluate(spec, model, train, lang, _cell(model, lang, cond, arm)), lang)
    summary = _summarize(spec, evaluations, list(judgements.values()))
    _add(steps, summary)
    # A spec that names no file on this disk plans no step that reads one: no walk per step.
    local = bool(local_inputs(spec))
    return Plan(spec.name, tuple(replace(s, needs=step_needs(s, spec, names_local_files=local))
                                 for s in steps.values()))


def _summarize(spec: ExperimentSpec, evaluations: list[Step],
               judgements: list[tuple[Step, Step]]) -> Step:
    cells = [{"evaluate": ev.key, **ev.labels} for ev in evaluations]
    conditions = {c.name: c.kind for c in spec.conditions}
    inputs = tuple(_out(f"cell{i}", ev, "records.json") for i, ev in enumerate(evaluations))
    params: dict[str, Any] = {"experiment": spec.name, "cells": cells, "conditions": conditions}
    # Round trip vs its own system's single pass (the report's rule); absent without pairs, so
    # such plans keep their keys.
    if pairs := pairs_from_conditions([c.model_dump(mode="json") for c in spec.conditions]):
        params["pairs"] = pairs
    if judgements:  # absent without judges, so judge-less plans keep their keys
        params["judged"] = [{"evaluate": ev.key, "judge": j.key, "name": j.params["name"]}
                            for ev, j in judgements]
        inputs += tuple(_out(f"judge{i}", j, "records.json") for i, (_, j) in enumerate(judgements))
    return _step("summarize", params, inputs, what="summarize")


REMOTE_ENGINES = ("google", "openai")
REMOTE_JUDGES = ("openai",)


def uses_gpu(step: Step, spec: ExperimentSpec) -> bool:
    """Whether ``step`` would hold a GPU: its kind asks for one, and it is not a translation or
    a judgement by a remote service (Google, an OpenAI-compatible endpoint), which runs on CPU."""
    if spec.resources_for(step.kind).gpus == 0:
        return False
    if step.kind == "judge":
        return step.params["judge"]["kind"] not in REMOTE_JUDGES
    return not (step.kind == "translate" and step.params["engine"]["kind"] in REMOTE_ENGINES)


# Which image runs each kind: judge beside evaluate (a local judge loads a model); summarize
# on the controller image, which has the report extra and no torch.
IMAGE_ROLE = {"prepare": "translate", "translate": "translate", "train": "train", "evaluate": "eval",
              "judge": "eval", "summarize": "controller"}
_SHM_KINDS = ("translate", "train", "evaluate", "judge")
# The params entry that describes the remote service a step may call, and the spec section
# that defines it.
_SERVICE = {"translate": ("engine", "engines"), "judge": ("judge", "judges")}


def step_needs(step: Step, spec: ExperimentSpec, *, names_local_files: bool = True) -> StepNeeds:
    """What ``step`` needs to run, from the spec's ``resources`` and ``execution`` and the step;
    ``names_local_files=False`` (the spec names no file on this disk) skips looking for one."""
    res = spec.resources_for(step.kind)
    return StepNeeds(gpus=res.gpus if uses_gpu(step, spec) else 0, cpu=res.cpu, memory=res.memory,
                     timeout_s=spec.execution.step_timeout_minutes * 60,
                     image_role=IMAGE_ROLE[step.kind], torch=IMAGE_ROLE[step.kind] != "controller",
                     shared_memory=step.kind in _SHM_KINDS, secret_env=_secret_env(step, spec),
                     host_inputs=names_local_files and names_host_file(step.params))


def _secret_env(step: Step, spec: ExperimentSpec) -> tuple[tuple[str, str], ...]:
    if step.kind not in _SERVICE:
        return ()
    param, section = _SERVICE[step.kind]
    var = step.params[param].get("api_key_env")
    if var is None:
        return ()
    if step.kind == "judge":
        name = step.params["name"]
    else:
        engine = step.params["engine"]
        name = next((n for n in spec.engines if engine_params(spec, n) == engine), engine["kind"])
    return ((var, f"{section}.{name}"),)


def estimate_gpu_hours(plan: Plan, spec: ExperimentSpec, *,
                       only: set[str] | None = None) -> dict[str, float]:
    """GPU-hours per step kind: steps × ``resources.<kind>.gpu_hours_per_step``.

    Steps that hold no GPU (``uses_gpu``) count none; ``only`` limits the sum to those step
    keys (e.g. the steps still to run). Every kind of the plan is present, in plan order, so a
    caller can print the table as is and sum it for a total.
    """
    out: dict[str, float] = {}
    for step in plan.steps:
        if only is not None and step.key not in only:
            out.setdefault(step.kind, 0.0)
            continue
        rate = spec.resources_for(step.kind).gpu_hours_per_step
        out[step.kind] = out.get(step.kind, 0.0) + (rate if uses_gpu(step, spec) else 0.0)
    return {k: round(v, 3) for k, v in out.items()}
