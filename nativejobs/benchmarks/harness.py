"""Close-ended benchmarks through lm-evaluation-harness, as a library, on an already-loaded model.

Per evaluate step: every harness benchmark becomes one generated group config (YAML, in
lm-eval's own format, kept with the step's outputs) whose members are the harness's stock tasks
(or the project's, ``tasks/``) with overrides: the number of shots, a generation cap, and, for a
spec that names files, the data source (``custom_dataset: hooks.load_files`` reading local or
``s3://`` files in their upstream layout). One ``lm_eval.simple_evaluate`` call then runs all of
them on the step's model, so the model is loaded once and batches span benchmarks.

The harness's per-sample log becomes the step's per-item predictions, its (group) aggregates the
records. Metrics the harness lacks (XQuAD's and TyDi QA's "include" and MLQA-style F1, max over
every gold) are computed by the project's tasks' ``process_results`` hooks (``hooks.py``).

Everything that imports lm_eval is inside functions: the plan and the controller never load it.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nativejobs.benchmarks._upstream import expand, read_split, subject_of
from nativejobs.benchmarks.catalog import HARNESS_VERSION, HarnessBenchmark, harness_benchmark
from nativejobs.errors import StepInputError

__all__ = ["TASKS_DIR", "HarnessBenchmarkRun", "HarnessOutcome", "run_harness", "write_configs"]

log = logging.getLogger(__name__)

TASKS_DIR = Path(__file__).parent / "tasks"  # the project's own lm-eval tasks
_LOADER = "nativejobs.benchmarks.hooks.load_files"
_FILTER_NAMES = {"none": "", "strict-match": "strict", "flexible-extract": "flexible"}


@dataclass(frozen=True)
class HarnessBenchmarkRun:
    """One spec benchmark in one language, as the evaluate step hands it over."""

    name: str
    kind: str
    language: str
    shots: int
    limit: int | None = None
    max_new_tokens: int | None = None
    chat_template: bool = False
    path: str | None = None
    dev_path: str | None = None
    dataset: str | None = None
    revision: str | None = None

    @property
    def group(self) -> str:
        return f"nativejobs_benchmark_{self.name.replace('-', '_')}"

    @property
    def entry(self) -> HarnessBenchmark:
        return harness_benchmark(self.kind)


@dataclass
class HarnessOutcome:
    """What one benchmark gave: records, per-item predictions, per-subtask scores."""

    records: list[dict[str, Any]]
    predictions: list[dict[str, Any]]
    subtasks: list[dict[str, Any]] = field(default_factory=list)


# -- configs --------------------------------------------------------------------------------------
class _Function(str):
    """A ``!function`` reference in a generated YAML."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Function, lambda d, v: d.represent_scalar("!function", str(v)))


def _task_dirs(runs: list[HarnessBenchmarkRun]) -> list[Path]:
    import lm_eval.tasks

    stock = Path(lm_eval.tasks.__file__).parent
    dirs = {TASKS_DIR if r.entry.task_dir == "nativejobs" else stock / r.entry.task_dir for r in runs}
    return sorted(dirs)


_INDEXES: dict[tuple[Path, ...], dict[str, Any]] = {}


def _index(dirs: list[Path]) -> dict[str, Any]:
    """The harness's index of the task folders (built once per process and folder set)."""
    from lm_eval.tasks._index import TaskIndex

    key = tuple(dirs)
    if key not in _INDEXES:
        _INDEXES[key] = TaskIndex.build(dirs)
    return dict(_INDEXES[key])


def _leaves(index: dict[str, Any], name: str) -> list[str]:
    """The leaf tasks of a task, group or tag in the index (without building anything)."""
    from lm_eval.tasks._index import Kind

    entry = index[name]
    if entry.kind == Kind.TAG:
        return sorted(entry.tags)
    if entry.kind != Kind.GROUP:
        return [name]
    members = entry.cfg.get("task") or []
    out: list[str] = []
    for m in members if isinstance(members, list) else [members]:
        out += _leaves(index, m if isinstance(m, str) else m.get("task") or m["group"])
    return out


def known_subtasks(entry: HarnessBenchmark, language: str) -> set[str]:
    """The subjects of a grouped kind in a language, as the harness names its subtasks.

    Raises:
        ImportError: If lm-eval is not installed.
    """
    import lm_eval.tasks

    stock = Path(lm_eval.tasks.__file__).parent / entry.task_dir
    prefix = entry.subtask_prefix[language]
    return {t.removeprefix(prefix) for t in _leaves(_index([stock]), entry.tasks[language])}


def _stock_config(index: dict[str, Any], task: str) -> dict[str, Any]:
    from lm_eval.tasks._yaml_loader import load_yaml

    return load_yaml(index[task].yaml_path, resolve_func=False)


def _files_source(run: HarnessBenchmarkRun) -> dict[str, list[str]]:
    """Split -> files of a one-task benchmark read from files."""
    entry, lang = run.entry, run.language
    assert run.path is not None
    source = run.path.replace("{lang}", lang)
    files = entry.files_for(lang, expand(source))
    if not files:
        raise StepInputError(f"benchmark {run.name}: {source} holds no file for {lang} "
                             f"(looked for the locale in the names, e.g. mmlu_ES-LA.csv)")
    sources = {entry.eval_split: files}
    if run.dev_path and entry.fewshot_split:
        sources[entry.fewshot_split] = expand(run.dev_path.replace("{lang}", lang))
    return sources


def _subject_files(run: HarnessBenchmarkRun) -> dict[str, dict[str, list[str]]]:
    """Subject -> split -> file, for kinds with one file per subject (CMMLU, C-Eval)."""
    entry, lang = run.entry, run.language
    assert run.path is not None and entry.fewshot_split is not None
    out: dict[str, dict[str, list[str]]] = {}
    for uri in expand(run.path.replace("{lang}", lang)):
        out[subject_of(uri, entry.file_suffixes.get(entry.eval_split, ""))] = {entry.eval_split: [uri]}
    if run.dev_path:
        dev = {subject_of(u, entry.file_suffixes.get(entry.fewshot_split, "")): u
               for u in expand(run.dev_path.replace("{lang}", lang))}
        for subject, sources in out.items():
            if subject not in dev:
                raise StepInputError(f"benchmark {run.name}: subject {subject!r} has no few-shot "
                                     f"file under {run.dev_path}; add one or remove its test file")
            sources[entry.fewshot_split] = [dev[subject]]
    return out


def _mmmlu_subject(name: str) -> str:
    # lm-eval openai-mmmlu/default/utils.py _normalize_subject_name
    for marker in ("_test.csv", "_test-"):
        if (at := name.find(marker)) != -1:
            return name[:at]
    return name


def _members(run: HarnessBenchmarkRun, index: dict[str, Any]) -> list[dict[str, Any]]:
    """The group members of one benchmark: stock task names with their source overrides."""
    entry, lang = run.entry, run.language
    stock = entry.tasks[lang]
    if run.path is None:  # the hub: the harness's own source (optionally another id or revision)
        hub: dict[str, Any] = {}
        if run.dataset:
            hub["dataset_path"] = run.dataset
        if run.revision:
            hub["dataset_kwargs"] = {"revision": run.revision}
        return [{"task": t, **hub} for t in _leaves(index, stock)]
    if entry.subjects == "files":
        return [{"task": entry.subtask_prefix[lang] + s, **_local(entry, files)}
                for s, files in sorted(_subject_files(run).items())]
    sources = _files_source(run)
    if entry.subjects == "column":
        rows = read_split(sources[entry.eval_split], entry.layout)
        subjects = sorted({_mmmlu_subject(str(r.get("Subject", ""))) for r in rows})
        return [{"task": entry.subtask_prefix[lang] + s, **_local(entry, sources)} for s in subjects]
    return [{"task": stock, **_local(entry, sources)}]


def _local(entry: HarnessBenchmark, sources: dict[str, list[str]]) -> dict[str, Any]:
    out: dict[str, Any] = {"custom_dataset": _Function(_LOADER),
                           "dataset_kwargs": {"sources": sources, "layout": entry.layout}}
    if entry.fewshot_split and entry.fewshot_split not in sources:
        # No few-shot file (shots 0): the task must not look for that split.
        out |= {"fewshot_split": None, "training_split": None}
    return out


def _group_config(run: HarnessBenchmarkRun, index: dict[str, Any]) -> dict[str, Any]:
    members = _members(run, index)
    unknown = [m["task"] for m in members if m["task"] not in index]
    if unknown:
        raise StepInputError(
            f"benchmark {run.name} ({run.kind}, {run.language}): no harness task "
            f"{', '.join(unknown[:5])}; the file names must be the subjects of the harness's "
            f"{run.entry.tasks[run.language]} (e.g. {_leaves(index, run.entry.tasks[run.language])[0]})")
    for m in members:
        m["num_fewshot"] = run.shots
        stock = _stock_config(index, m["task"])
        if stock.get("output_type", "generate_until") == "generate_until" and run.max_new_tokens:
            m["generation_kwargs"] = {**(stock.get("generation_kwargs") or {}),
                                      "max_gen_toks": run.max_new_tokens}
    metrics = _aggregate_metrics(_stock_config(index, members[0]["task"]))
    return {"group": run.group, "task": members,
            "aggregate_metric_list": [{"metric": m, "aggregation": "mean", "weight_by_size": True}
                                      for m in metrics],
            "metadata": {"version": 1.0, "benchmark": run.name, "kind": run.kind}}


def _aggregate_metrics(stock: dict[str, Any]) -> list[str]:
    listed = [m["metric"] for m in stock.get("metric_list") or [] if isinstance(m.get("metric"), str)]
    return listed or ["acc"]


def write_configs(runs: list[HarnessBenchmarkRun], folder: Path) -> dict[str, Path]:
    """Write one group config per benchmark into ``folder``.

    Returns:
        Benchmark name -> its YAML file.

    Raises:
        StepInputError: If a source names no file, a file is malformed, or a file names no
            harness subtask.
    """
    index = _index(_task_dirs(runs))
    missing = sorted({r.entry.tasks[r.language] for r in runs} - index.keys())
    if missing:  # our own YAMLs are never skipped silently
        raise StepInputError(f"lm-eval tasks {', '.join(missing)} did not load from "
                             f"{', '.join(map(str, _task_dirs(runs)))}; check lm-eval=={HARNESS_VERSION}")
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for run in runs:
        path = folder / f"{run.group}.yaml"
        path.write_text(yaml.dump(_group_config(run, index), Dumper=_Dumper, allow_unicode=True,
                                  sort_keys=False), encoding="utf-8")
        out[run.name] = path
    return out


def check_runs(runs: list[HarnessBenchmarkRun], folder: Path) -> None:
    """Build every benchmark's config and read its local files: a bad source fails before the
    model loads (the rows stay cached for the run).

    Raises:
        StepInputError: If a source or a file is bad.
    """
    from nativejobs.benchmarks.sources import require_fields

    by_name = {r.name: r for r in runs}
    for name, path in write_configs(runs, folder).items():
        entry = by_name[name].entry
        for member in yaml.safe_load(_strip_functions(path.read_text(encoding="utf-8")))["task"]:
            kwargs = member.get("dataset_kwargs") or {}
            for split, uris in (kwargs.get("sources") or {}).items():
                rows = read_split(uris, kwargs["layout"])
                require_fields(entry.kind, "eval" if split == entry.eval_split else "fewshot",
                               rows, uris)


def _strip_functions(text: str) -> str:
    return text.replace("!function ", "")


# -- running --------------------------------------------------------------------------------------
def run_harness(lm: Any, runs: list[HarnessBenchmarkRun], workdir: Path) -> tuple[
        dict[str, HarnessOutcome], dict[str, Any]]:
    """Run every benchmark on ``lm`` (an ``lm_eval.api.model.LM``) in as few harness calls as
    the chat-template settings allow (one, normally).

    Args:
        lm: The loaded model, wrapped for the harness (``HFLM``, ``VLLM``).
        runs: The step's harness benchmarks.
        workdir: Where the generated task configs go (``workdir/tasks``).

    Returns:
        Benchmark name -> its outcome; and the harness's metadata (versions, configs, n-shot).

    Raises:
        StepInputError: For bad sources or configs (never retried).
    """
    configs = write_configs(runs, workdir / "tasks")
    outcomes: dict[str, HarnessOutcome] = {}
    meta: dict[str, Any] = {"lm_eval": _version(), "configs": {}, "versions": {}, "n-shot": {}}
    for chat in sorted({r.chat_template for r in runs}):
        batch = [r for r in runs if r.chat_template == chat]
        result = _evaluate(lm, batch, workdir / "tasks", chat_template=chat)
        for key in ("configs", "versions", "n-shot"):
            meta[key].update(result.get(key, {}))
        for run in batch:
            outcomes[run.name] = _outcome(run, result)
    meta["task_files"] = {name: path.name for name, path in configs.items()}
    return outcomes, meta


def _version() -> str:
    import importlib.metadata

    return importlib.metadata.version("lm_eval")


def _evaluate(lm: Any, runs: list[HarnessBenchmarkRun], folder: Path, *, chat_template: bool
              ) -> dict[str, Any]:
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=[*_task_dirs(runs), folder], include_defaults=False)
    try:
        loaded = manager.load([r.group for r in runs])
    except StepInputError:
        raise
    except (KeyError, ValueError, FileNotFoundError) as e:
        raise StepInputError(f"lm-eval could not build the tasks of {', '.join(r.name for r in runs)}: "
                             f"{e}") from e
    except RuntimeError as e:
        if "script" in str(e).lower():
            raise StepInputError(f"a benchmark's hub dataset needs a loading script, which "
                                 f"datasets>=4 refuses ({e}); give its files as path/dev_path, "
                                 "or a parquet revision (revision: refs/convert/parquet)") from e
        raise
    samples = _samples(runs, loaded)
    groups = [loaded["groups"][r.group] for r in runs]
    result = simple_evaluate(model=lm, tasks=groups, samples=samples or None, log_samples=True,
                             apply_chat_template=chat_template, fewshot_as_multiturn=chat_template,
                             bootstrap_iters=0, task_manager=manager)
    assert result is not None  # one process: rank 0
    return result


def _samples(runs: list[HarnessBenchmarkRun], loaded: dict[str, Any]) -> dict[str, list[int]]:
    """The first ``limit`` documents of every leaf task of a limited benchmark."""
    out: dict[str, list[int]] = {}
    for run in runs:
        if run.limit is None:
            continue
        for task in loaded["groups"][run.group].get_all_tasks():
            out[task.task_name] = list(range(min(run.limit, len(task.eval_docs))))
    return out


# -- results --------------------------------------------------------------------------------------
def _metric_name(key: str) -> str | None:
    """``"acc,none"`` -> ``acc``; ``"exact_match,strict-match"`` -> ``exact_match_strict``;
    None for stderr and bookkeeping keys."""
    metric, _, filt = key.partition(",")
    if not filt or metric.endswith("_stderr"):
        return None
    suffix = _FILTER_NAMES.get(filt, filt.replace("-", "_"))
    return f"{metric}_{suffix}" if suffix else metric


def _outcome(run: HarnessBenchmarkRun, result: dict[str, Any]) -> HarnessOutcome:
    leaves = list(result["group_subtasks"][run.group])
    grouped = run.entry.subjects is not None
    predictions: list[dict[str, Any]] = []
    subtasks: list[dict[str, Any]] = []
    for task in leaves:
        rows = _items(run, task, result["samples"][task], grouped=grouped)
        predictions += rows
        if grouped:
            subject = task.removeprefix(run.entry.subtask_prefix[run.language])
            subtasks += [{"benchmark": run.name, "subtask": subject, "task": task, "metric": m,
                          "score": s, "n": len(rows), "language": run.language}
                         for m, s in _scores(result["results"][task]).items()]
    aggregate = result.get("groups", {}).get(run.group) or result["results"].get(run.group, {})
    scores = _scores(aggregate) or _scores(result["results"][leaves[0]])
    return HarnessOutcome(_records(run, result, leaves, scores, len(predictions)), predictions, subtasks)


def _scores(metrics: dict[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in metrics.items():
        name = _metric_name(key)
        if name is not None and isinstance(value, (int, float)):
            out[name] = float(value)
    return out


def _records(run: HarnessBenchmarkRun, result: dict[str, Any], leaves: list[str],
             scores: dict[str, float], n: int) -> list[dict[str, Any]]:
    versions = sorted({str(result["versions"].get(t)) for t in leaves})
    common = {"benchmark": run.name, "kind": run.kind, "n": n, "language": run.language,
              "shots": run.shots, "harness": f"lm-eval {_version()}",
              "task": run.entry.tasks[run.language], "task_version": ",".join(versions),
              "subtasks": len(leaves), "chat_template": run.chat_template,
              "source": "files" if run.path else (run.dataset or run.entry.hub),
              "limit": run.limit}
    return [{**common, "metric": m, "score": s} for m, s in sorted(scores.items())]


def _item_id(run: HarnessBenchmarkRun, task: str, sample: dict[str, Any], *, grouped: bool) -> str:
    if grouped:
        return f"{task.removeprefix(run.entry.subtask_prefix[run.language])}-{sample['doc_id']}"
    doc_id = sample["doc"].get("id") if isinstance(sample["doc"], dict) else None
    return str(doc_id) if doc_id not in (None, "") else str(sample["doc_id"])


def _items(run: HarnessBenchmarkRun, task: str, samples: list[dict[str, Any]], *,
           grouped: bool) -> list[dict[str, Any]]:
    """One prediction row per document (samples of every filter merged)."""
    by_doc: dict[int, dict[str, Any]] = {}
    filters: dict[int, dict[str, Any]] = defaultdict(dict)
    for s in samples:
        row = by_doc.setdefault(s["doc_id"], _base_row(run, task, s, grouped=grouped))
        suffix = _FILTER_NAMES.get(s["filter"], s["filter"].replace("-", "_"))
        for metric in s["metrics"]:
            row[f"{metric}_{suffix}" if suffix else metric] = float(s[metric])
        if suffix:
            filters[s["doc_id"]][f"extracted_{suffix}"] = s["filtered_resps"][0]
    for doc_id, row in by_doc.items():
        row.update(filters[doc_id])
    return [by_doc[d] for d in sorted(by_doc)]


def _base_row(run: HarnessBenchmarkRun, task: str, s: dict[str, Any], *, grouped: bool) -> dict[str, Any]:
    row: dict[str, Any] = {"id": _item_id(run, task, s, grouped=grouped)}
    if grouped:
        row["subtask"] = task.removeprefix(run.entry.subtask_prefix[run.language])
    args = s["arguments"]
    row["prompt"] = args[0][0]
    if len(args) > 1 or (s["resps"] and isinstance(s["resps"][0][0], (list, tuple))):
        return row | _choice_fields(s)
    completion = s["resps"][0][0]
    golds = _golds(s)
    return row | {"prediction": completion, "golds": golds}


def _choice_fields(s: dict[str, Any]) -> dict[str, Any]:
    lls = [float(r[0]) for r in s["filtered_resps"]]
    choices = [a[1] for a in s["arguments"]]
    best = max(range(len(lls)), key=lls.__getitem__)  # first on ties, like numpy's argmax
    target = s["target"]
    gold = choices[target] if isinstance(target, int) and 0 <= target < len(choices) else str(target)
    return {"prediction": choices[best].strip(), "golds": [gold.strip()], "loglikelihoods": lls}


def _golds(s: dict[str, Any]) -> list[str]:
    answers = s["doc"].get("answers") if isinstance(s["doc"], dict) else None
    if isinstance(answers, dict):
        return [str(a) for a in answers.get("text", [])]
    if isinstance(answers, list):
        return [str(a) for a in answers]
    return [str(s["target"])]


def harness_metadata_json(meta: dict[str, Any]) -> str:
    """The harness metadata as JSON (functions in configs are already source text)."""
    return json.dumps(meta, indent=1, ensure_ascii=False, default=str)
