"""Property-based fuzzing of the CLI's inputs (issue 11): specs, arguments and record files.

The property, for every input: exit 0 with a plan (or a report), or exit 2 with short ``error:``
lines (or click's usage message); never a traceback; bounded time and memory. Hypothesis runs a
fixed budget of examples, derandomized (the same examples on every run, so CI is stable), with
no example database. Every crash it ever found is kept in ``tests/fixtures/fuzz_corpus`` and
replayed here (see its README).

Budget: 80 specs, 60 argument vectors, 50 record files (~20 s in all on two idle cores, ~75 s
on two overloaded ones); ``NATIVEJOBS_FUZZ_EXAMPLES=10`` scales them up to search harder.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.configuration import set_hypothesis_home_dir  # noqa: E402

from nativejobs import cli  # noqa: E402
from tests.unit.builders import make_spec  # noqa: E402

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "fuzz_corpus"
SCALE = float(os.environ.get("NATIVEJOBS_FUZZ_EXAMPLES", "1"))
MAX_LINE = 500  # characters of one line on stderr
MAX_ERROR_LINES = 40
MAX_SECONDS = 15.0  # one CLI call; generous, as CI machines are busy
MAX_PEAK_MB = 200  # Python allocations of one corpus case (tracemalloc)
MAX_RSS_GROWTH_MB = 1024  # the process's high-water mark over a whole fuzz test
# Hypothesis caches Unicode tables on disk; in the temp dir, not as a .hypothesis/ in the checkout.
set_hypothesis_home_dir(str(Path(tempfile.gettempdir()) / "nativejobs-hypothesis"))


def _settings(examples: int) -> Any:
    return settings(max_examples=max(1, int(examples * SCALE)), derandomize=True, database=None,
                    deadline=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture,
                                           HealthCheck.filter_too_much])


def run_cli(*args: str) -> tuple[int, str, str, float]:
    """The CLI in-process, as the console script runs it: (exit code, stdout, stderr, seconds)."""
    out, err = io.StringIO(), io.StringIO()
    start = time.monotonic()
    with (contextlib.redirect_stdout(out), contextlib.redirect_stderr(err),
          mock.patch.object(sys, "argv", ["nativejobs", *args])):
        try:
            cli.main()
            code: Any = 0
        except SystemExit as e:
            code = e.code
    return (code if isinstance(code, int) else 0 if code is None else 1, out.getvalue(),
            err.getvalue(), time.monotonic() - start)


def check(result: tuple[int, str, str, float], *, ok_says: str, expected: int | None = None) -> None:
    """The fuzzer's property (see the module docstring)."""
    code, out, err, seconds = result
    assert "Traceback" not in out + err, err[-3000:]
    assert code in (0, 2), (code, err[-2000:])
    assert expected is None or code == expected, (code, out[-500:], err[-2000:])
    assert seconds < MAX_SECONDS, seconds
    lines = err.splitlines()
    assert all(len(line) <= MAX_LINE for line in lines), max(lines, key=len)[:600]
    if code == 0:
        assert ok_says in out, out[-2000:]
    else:
        errors = [line for line in lines if line.startswith(("error:", "Error:"))]
        assert 1 <= len(errors) <= MAX_ERROR_LINES, err[-2000:]


@contextlib.contextmanager
def bounded_rss() -> Any:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    yield
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < MAX_RSS_GROWTH_MB, f"peak RSS grew by {grown_mb:.0f} MB"


# -- strategies ------------------------------------------------------------------------------------
_SPECIAL_TEXT = ["", " ", "[/x]", "[bold]", "es", "en", "xx", "native", "translated", "eng", "j",
                 "a1", "m1", "qa", "s3://bucket/x", "s3://[bad", "s3://bucket name/x", "gs://b/x",
                 "http://h/x", "file:///tmp/x", "/etc/hostname", "x" * 300, "{lang}", "../x",
                 "a\x00b", "\u202e", "café", "中文", ".inf", "-1", "1e400", "null", "~", "*a", "&a"]
texts = st.one_of(st.sampled_from(_SPECIAL_TEXT),
                  st.text(st.characters(exclude_categories=["Cs"]), max_size=30))
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                    st.floats(allow_nan=True, allow_infinity=True), texts)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(texts, inner, max_size=4)), max_leaves=10)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            found += _paths(v, (*prefix, i))
    return found


def _mutate(data: Any, doc: dict[str, Any]) -> None:
    path = data.draw(st.sampled_from(_paths(doc)), label="path")
    parent: Any = doc
    for part in path[:-1]:
        parent = parent[part]
    op = data.draw(st.sampled_from(["set", "set", "set", "delete", "add"]), label="op")
    if op == "set":
        parent[path[-1]] = data.draw(values, label="value")
    elif op == "delete":
        parent.pop(path[-1])
    elif isinstance(parent, dict):
        parent[data.draw(texts, label="key")] = data.draw(values, label="value")
    else:
        parent.append(data.draw(values, label="value"))


def rich_spec() -> dict[str, Any]:
    """A valid spec that reaches every part of the spec: judges, open QA, a harness kind, a
    released source, round trips, a multilingual arm, resources (43 steps)."""
    doc = make_spec(
        languages=["es", "ru"],
        judges={"j": {"kind": "openai", "model": "gpt", "base_url": "http://localhost:1/v1",
                      "api_key_env": "OPENAI_API_KEY", "extra_body": {"guided_regex": "x"}}},
        conditions=[{"name": "native", "kind": "native"},
                    {"name": "translated", "kind": "translated", "engine": "eng"},
                    {"name": "rtt", "kind": "round_trip", "engine": "eng"},
                    {"name": "google", "kind": "translated",
                     "source": {"kind": "released", "path": "aya", "system": "google"}}],
        arms=[{"name": "a1", "lr": 1e-4},
              {"name": "multi", "lr": 1e-6, "mode": "multi", "conditions": ["native"]}],
        benchmarks=[{"name": "qa", "kind": "xquad", "path": "bench/qa.{lang}.json", "limit": 5},
                    {"name": "xq", "kind": "xquad", "path": "bench/xquad.{lang}.json",
                     "languages": ["es", "ru"]},
                    {"name": "open", "kind": "open_qa", "path": "bench/open_{lang}.jsonl", "judges": ["j"]}],
        resources={"train": {"gpus": 1, "gpu_hours_per_step": 1.5}})
    doc["data"]["mixture"] = {"languages": ["es", "ru"], "size": 2}
    return doc


def _spec_text(data: Any) -> bytes:
    doc = data.draw(st.sampled_from([make_spec, rich_spec]), label="base")()
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        _mutate(data, doc)
    text = yaml.safe_dump(doc, allow_unicode=True).encode("utf-8")
    if data.draw(st.booleans(), label="garble"):  # syntax and encoding: bytes spliced in
        at = data.draw(st.integers(0, len(text)), label="at")
        text = text[:at] + data.draw(st.binary(max_size=8), label="bytes") + text[at:]
    return text


# -- specs -----------------------------------------------------------------------------------------
def test_fuzzed_specs_plan_or_fail_in_one_line(tmp_path: Path) -> None:
    spec, store = tmp_path / "spec.yaml", tmp_path / "store"

    @_settings(80)
    @given(data=st.data())
    def fuzz(data: Any) -> None:
        spec.write_bytes(_spec_text(data))
        check(run_cli("plan", str(spec), "--store", str(store)), ok_says="plan tiny")

    with bounded_rss():
        fuzz()


def test_the_rich_base_plans(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(rich_spec()), encoding="utf-8")

    check(run_cli("plan", str(spec), "--store", str(tmp_path / "store")), ok_says="plan tiny",
          expected=0)


# -- CLI arguments ---------------------------------------------------------------------------------
# Commands that stay on this machine with a local store: no cluster, no S3, no model run
# (submit needs a valid spec, which this vocabulary never names).
_STORE_COMMANDS = ("status", "logs", "cancel", "gc")
_COMMANDS = ["validate", "plan", "results", "status", "logs", "cancel", "gc", "sources", "bogus", ""]
_TOKENS = ["--store", "--format", "-f", "--import", "-o", "--output", "--kind", "--backend",
           "--max-parallel", "--steps", "--yes", "--all", "--", "-", "--help", "md", "csv", "json", "k8s",
           "local", "bogus", "x=native", "=", "0", "-1", "abc", "1e9", "{bad}", "{spec}",
           "{records}", "{store}", "{file}", "tiny", "[/x]", "x" * 300]


def _arg(data: Any, places: dict[str, str]) -> str:
    token = data.draw(st.one_of(st.sampled_from(_TOKENS),
                                st.text(st.characters(exclude_categories=["Cs"], exclude_characters=":\x00"),
                                        max_size=20)), label="token")
    return places.get(token, token)


def test_fuzzed_arguments_never_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a relative -o or --store lands here, never in the checkout
    (tmp_path / "file").write_text("a file\n")
    places = {"{spec}": str(tmp_path / "bad.yaml"), "{records}": str(CORPUS / "records" / "ok-records.csv"),
              "{store}": str(tmp_path / "store"), "{file}": str(tmp_path / "file"),
              "{bad}": str(CORPUS / "specs" / "lr-inf.yaml")}
    (tmp_path / "bad.yaml").write_text("name: [x]\n")

    @_settings(60)
    @given(data=st.data())
    def fuzz(data: Any) -> None:
        command = data.draw(st.sampled_from(_COMMANDS), label="command")
        args = [command] if command else []
        args += [_arg(data, places) for _ in range(data.draw(st.integers(0, 5), label="n"))]
        if "--store" not in args:  # never the developer's own store
            args += ["--store", str(tmp_path / "store")] if command in _STORE_COMMANDS else []
        code, out, err, seconds = run_cli(*args)
        if "--help" in args or not command:
            assert code in (0, 2) and "Traceback" not in out + err
            return
        check((code, out, err, seconds), ok_says="")

    with bounded_rss():
        fuzz()


# -- imported record files -------------------------------------------------------------------------
_FIELDS = ["model", "language", "condition", "arm", "benchmark", "metric", "score", "n",
           "condition_kind"]
_GOOD = {"model": "m", "language": "es", "condition": "native", "arm": "a", "benchmark": "b",
         "metric": "acc", "score": 0.5, "n": 3, "condition_kind": "native"}


def _records(data: Any) -> list[dict[str, Any]]:
    rows = [dict(_GOOD), {**_GOOD, "condition": "g", "condition_kind": "translated", "score": 0.4}]
    for _ in range(data.draw(st.integers(0, 3), label="edits")):
        row = data.draw(st.sampled_from(rows), label="row")
        field = data.draw(st.sampled_from(_FIELDS), label="field")
        if data.draw(st.booleans(), label="drop"):
            row.pop(field, None)
        else:
            row[field] = data.draw(values, label="value")
    return rows


def _record_file(data: Any, rows: list[dict[str, Any]], suffix: str) -> str:
    if suffix == ".json":
        return json.dumps(rows, default=str)
    if suffix == ".jsonl":
        return "".join(json.dumps(r, default=str) + "\n" for r in rows)
    out = io.StringIO()
    import csv

    writer = csv.DictWriter(out, fieldnames=sorted({k for r in rows for k in r}), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def test_fuzzed_record_files_report_or_fail_in_one_line(tmp_path: Path) -> None:
    @_settings(50)
    @given(data=st.data())
    def fuzz(data: Any) -> None:
        suffix = data.draw(st.sampled_from([".csv", ".json", ".jsonl"]), label="suffix")
        text = _record_file(data, _records(data), suffix).encode("utf-8", "surrogatepass")
        if data.draw(st.booleans(), label="garble"):
            at = data.draw(st.integers(0, len(text)), label="at")
            text = text[:at] + data.draw(st.binary(max_size=8), label="bytes") + text[at:]
        path = tmp_path / f"records{suffix}"
        path.write_bytes(text)
        check(run_cli("results", "--import", str(path)), ok_says="")

    with bounded_rss():
        fuzz()


# -- the corpus: every crash found, replayed ------------------------------------------------------
def _traced(*args: str) -> tuple[tuple[int, str, str, float], float]:
    tracemalloc.start()
    try:
        result = run_cli(*args)
        peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    return result, peak_mb


@pytest.mark.parametrize("path", sorted((CORPUS / "specs").iterdir()), ids=lambda p: p.name)
def test_corpus_specs(tmp_path: Path, path: Path) -> None:
    result, peak_mb = _traced("plan", str(path), "--store", str(tmp_path / "store"))

    check(result, ok_says="plan tiny", expected=0 if path.name.startswith("ok-") else 2)
    assert peak_mb < MAX_PEAK_MB, f"{peak_mb:.0f} MB"


@pytest.mark.parametrize("path", sorted((CORPUS / "records").iterdir()), ids=lambda p: p.name)
def test_corpus_records(path: Path) -> None:
    if path.name.startswith("ok-"):  # the report of valid records needs the report extra
        pytest.importorskip("numpy")
    result, peak_mb = _traced("results", "--import", str(path))

    check(result, ok_says="", expected=0 if path.name.startswith("ok-") else 2)
    assert peak_mb < MAX_PEAK_MB, f"{peak_mb:.0f} MB"


_CLI_CASES = json.loads((CORPUS / "cli_args.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", _CLI_CASES, ids=lambda c: " ".join(c["args"])[:60])
def test_corpus_arguments(tmp_path: Path, case: dict[str, Any]) -> None:
    (tmp_path / "file").write_text("a file\n")
    places = {"spec": str(CORPUS / "specs" / "ok-base.yaml"), "store": str(tmp_path / "store"),
              "file": str(tmp_path / "file"), "records": str(CORPUS / "records"), "long": "y" * 300}
    args = [a.format_map(places) for a in case["args"]]
    if "--store" not in args and args[0] in ("plan", "submit"):
        args += ["--store", str(tmp_path / "store")]

    check(run_cli(*args), ok_says="", expected=case["exit"])
