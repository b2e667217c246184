"""Does every benchmark source of a spec load? Checked before a run, without running a model.

``check_sources(spec)`` returns one ``SourceCheck`` per benchmark, language and split:

- files (local or ``s3://``): expanded (file, folder or glob), read and parsed in their upstream
  layout, the first rows checked for the fields the task reads; per-subject files are matched
  to the harness's subtasks when lm-eval is installed;
- hub ids (harness kinds without ``path``): the repository's file list is fetched (metadata
  only, nothing is downloaded) to see whether ``datasets`` would need a loading script, which
  ``datasets>=4`` refuses; offline, the check says so (``unchecked``).

Nothing here raises for a bad source: every problem is a ``SourceCheck`` with status ``error``
and a message that says what to fix.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from nativejobs.benchmarks._upstream import expand, read_split
from nativejobs.benchmarks.catalog import HARNESS_KINDS, harness_benchmark
from nativejobs.errors import NativeJobsError, StepInputError

__all__ = ["REQUIRED_FIELDS", "SourceCheck", "check_sources", "hub_script_problem", "require_fields"]

Status = Literal["ok", "error", "unchecked"]
# Fields the harness task reads from every row, per kind and split role (after the layout).
REQUIRED_FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "tydiqa": {"eval": ("id", "context", "question", "answers"),
               "fewshot": ("id", "context", "question", "answers")},
    "cmmlu": {"eval": ("Question", "A", "B", "C", "D", "Answer"),
              "fewshot": ("Question", "A", "B", "C", "D", "Answer")},
    "ceval": {"eval": ("question", "A", "B", "C", "D", "answer"),
              "fewshot": ("question", "A", "B", "C", "D", "answer")},
    "xquad": {"eval": ("id", "context", "question", "answers")},
    "mgsm": {"eval": ("question", "answer_number"), "fewshot": ("question", "answer", "answer_number")},
    "okapi_mmlu": {"eval": ("instruction", "option_a", "option_b", "option_c", "option_d", "answer"),
                   "fewshot": ("instruction", "option_a", "option_b", "option_c", "option_d", "answer")},
    "mmmlu": {"eval": ("Question", "A", "B", "C", "D", "Answer", "Subject")},
}
_HUB_DATA = (".parquet", ".arrow", ".csv", ".tsv", ".json", ".jsonl", ".txt")
HubLister = Callable[[str, str | None], Sequence[str]]  # (repo id, revision) -> repo file paths


@dataclass(frozen=True)
class SourceCheck:
    """The verdict on one source of one benchmark in one language.

    Attributes:
        benchmark: The spec's benchmark name.
        kind: Its kind.
        language: The language it runs in.
        split: What the source feeds: the task's eval or few-shot split name, or ``hub``.
        source: The path, glob or URI as expanded for the language, or the hub id.
        status: ``ok``, ``error`` (the run would fail; ``message`` says how to fix it) or
            ``unchecked`` (could not be checked here, e.g. the hub offline).
        message: What was found, or what is wrong and what to do.
        files: Data files the source expanded to (files only).
        rows: Rows parsed from them (files only).
    """

    benchmark: str
    kind: str
    language: str
    split: str
    source: str
    status: Status
    message: str
    files: int | None = None
    rows: int | None = None

    @property
    def ok(self) -> bool:
        return self.status != "error"


def check_sources(spec: Any, *, list_hub_files: HubLister | None = None) -> list[SourceCheck]:
    """Try every benchmark source of ``spec`` (an ``ExperimentSpec``) in every language it runs in.

    Args:
        spec: The validated spec.
        list_hub_files: Lists a hub repository's files (default: ``huggingface_hub``; a test
            passes its own).

    Returns:
        The checks, in spec order (benchmark, language, split).
    """
    out: list[SourceCheck] = []
    for bench in spec.benchmarks:
        for lang in bench.languages or spec.languages:
            if bench.kind not in HARNESS_KINDS:  # open_qa, the only other kind
                out.append(_check_open_qa(bench, lang))
            elif bench.path is None:
                out.append(_check_hub(bench, lang, list_hub_files or _hf_list_files))
            else:
                out += _check_files(bench, lang)
    return out


def _check_open_qa(bench: Any, lang: str) -> SourceCheck:
    from nativejobs.benchmarks import open_qa

    path = bench.path.replace("{lang}", lang)
    try:
        items = open_qa.load(path=path, language=lang, shots=bench.shots, limit=None)
    except NativeJobsError as e:
        return SourceCheck(bench.name, bench.kind, lang, "test", path, "error", str(e))
    return SourceCheck(bench.name, bench.kind, lang, "test", path, "ok", f"{len(items)} items",
                       files=1, rows=len(items))


def _check_files(bench: Any, lang: str) -> list[SourceCheck]:
    entry = harness_benchmark(bench.kind)
    splits = [("eval", entry.eval_split, bench.path)]
    if bench.dev_path and entry.fewshot_split:
        splits.append(("fewshot", entry.fewshot_split, bench.dev_path))
    checks = []
    for role, split, pattern in splits:
        source = pattern.replace("{lang}", lang)
        try:
            uris = entry.files_for(lang, expand(source))
            if not uris:
                raise StepInputError(f"{source} holds no file for {lang}; name MMMLU files after "
                                     "their locale, e.g. mmlu_ES-LA.csv")
            rows = read_split(uris, entry.layout)
        except NativeJobsError as e:
            checks.append(SourceCheck(bench.name, bench.kind, lang, split, source, "error", str(e)))
            continue
        problem = _missing_fields(bench.kind, role, rows)
        status: Status = "error" if problem else "ok"
        message = problem or f"{len(rows)} rows in {len(uris)} file(s)"
        if not problem and entry.subjects == "files":
            status, message = _subject_verdict(entry, lang, uris, split, message)
        checks.append(SourceCheck(bench.name, bench.kind, lang, split, source, status, message,
                                  files=len(uris), rows=len(rows)))
    return checks


def _missing_fields(kind: str, role: str, rows: list[dict[str, Any]]) -> str | None:
    need = REQUIRED_FIELDS.get(kind, {}).get(role, ())
    for i, row in enumerate(rows):
        if missing := [f for f in need if f not in row]:
            have = ", ".join(sorted(map(str, row))[:12]) or "nothing"
            return (f"row {i + 1} lacks {', '.join(missing)} (has {have}); give {kind} files in "
                    "the upstream layout (see nativejobs.benchmarks.catalog)")
    return None


def require_fields(kind: str, role: str, rows: list[dict[str, Any]], uris: Sequence[str]) -> None:
    """Check that every row has the fields the harness task reads (its templates fail late,
    with a jinja error, on a row that lacks one).

    Args:
        kind: The benchmark kind.
        role: ``eval`` or ``fewshot``.
        rows: The split's rows, as ``read_split`` returns them.
        uris: The files they came from, for the message.

    Raises:
        StepInputError: Naming the files, the row and the missing fields.
    """
    if problem := _missing_fields(kind, role, rows):
        raise StepInputError(f"benchmark file(s) {', '.join(uris[:3])}: {problem}")


def _subject_verdict(entry: Any, lang: str, uris: list[str], split: str,
                     message: str) -> tuple[Status, str]:
    """Per-subject files must name the harness's subtasks (checked when lm-eval is here)."""
    from nativejobs.benchmarks._upstream import subject_of

    subjects = sorted({subject_of(u, entry.file_suffixes.get(split, "")) for u in uris})
    try:
        from nativejobs.benchmarks.harness import known_subtasks

        known = known_subtasks(entry, lang)
    except ImportError:
        return "ok", f"{message}; {len(subjects)} subjects (names unchecked: lm-eval not installed)"
    unknown = [s for s in subjects if s not in known]
    if unknown:
        return "error", (f"{', '.join(unknown[:5])} {'is' if len(unknown) == 1 else 'are'} not "
                         f"{entry.kind} subjects; name each file after its subject, e.g. "
                         f"{sorted(known)[0]}{entry.file_suffixes.get(split, '')}.csv")
    return "ok", f"{message}; {len(subjects)} of {len(known)} subjects"


def hub_script_problem(repo: str, files: Sequence[str]) -> str | None:
    """Why ``datasets>=4`` would refuse to load ``repo`` from its file list, or None.

    A repository whose root holds a Python loading script (``cmmlu.py``) and no data files
    datasets can read without it is loaded by that script, which datasets 4 no longer runs.
    """
    scripts = [f for f in files if "/" not in f and f.endswith(".py")]
    has_data = any(f.endswith(_HUB_DATA) and not f.startswith(".") for f in files)
    if scripts and not has_data:
        return (f"{repo} is loaded by its script {scripts[0]}, which datasets>=4 refuses; set "
                "revision: refs/convert/parquet (the hub's parquet export) or give the files as "
                "path/dev_path")
    return None


def _check_hub(bench: Any, lang: str, list_files: HubLister) -> SourceCheck:
    entry = harness_benchmark(bench.kind)
    repo = bench.dataset or entry.hub
    where = repo + (f"@{bench.revision}" if bench.revision else "")
    try:
        files = list_files(repo, bench.revision)
    except Exception as e:  # network, auth, offline: reported, never raised
        return SourceCheck(bench.name, bench.kind, lang, "hub", where, "unchecked",
                           f"cannot list the repository's files ({type(e).__name__}: {e}); "
                           "check it where the hub is reachable")
    problem = hub_script_problem(repo, files)
    if problem:
        return SourceCheck(bench.name, bench.kind, lang, "hub", where, "error", problem)
    return SourceCheck(bench.name, bench.kind, lang, "hub", where, "ok",
                       f"{len(files)} files, no loading script needed")


def _hf_list_files(repo: str, revision: str | None) -> Sequence[str]:
    if os.environ.get("HF_HUB_OFFLINE") in ("1", "true", "True"):
        raise ConnectionError("HF_HUB_OFFLINE is set")
    from huggingface_hub import HfApi

    return HfApi().list_repo_files(repo, repo_type="dataset", revision=revision)
