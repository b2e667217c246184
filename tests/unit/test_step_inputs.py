"""Bad step input is exit 3 (never retried) with the file and the line or row (issue 11).

Before, an instruction line that was JSON but not an object (TypeError), a garbage parquet file
(ArrowInvalid) and benchmark rows missing a field (jinja2's UndefinedError, late, in the
harness) exited 1 and were retried as if transient; a bad JSON line was reported as line 1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nativejobs.benchmarks._upstream import read_rows as read_benchmark_rows
from nativejobs.benchmarks.sources import require_fields
from nativejobs.errors import StepInputError
from nativejobs.plan import Plan, build_plan
from nativejobs.spec import parse_spec
from nativejobs.steps.__main__ import EXIT_BAD_INPUT, EXIT_INPUT_DAMAGED
from nativejobs.steps.__main__ import main as step_main
from nativejobs.steps.prepare import read_rows
from nativejobs.store import FileStore
from tests.unit.builders import make_spec

GOOD = '{"instruction": "i", "input": "", "output": "o"}\n'


def write(tmp_path: Path, name: str, content: str | bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return str(path)


# -- instruction files ----------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "content", "says"), [
    ("x.jsonl", GOOD + "{bad\n", "line 2 is not valid JSON"),
    ("x.jsonl", GOOD + "\n" + GOOD + "[1, 2]\n", "row 3: is list [1, 2], not an object"),
    ("x.jsonl", GOOD + '"just text"\n', "row 2: is str 'just text', not an object"),
    ("x.jsonl", GOOD + "5\n", "row 2: is int 5, not an object"),
    ("x.json", json.dumps([json.loads(GOOD), None]), "row 2: is NoneType None, not an object"),
    ("x.jsonl", GOOD + '{"instruction": {"a": 1}, "output": "o"}\n', "row 2: field 'instruction' is dict"),
    ("x.jsonl", GOOD + '{"prompt": "p"}\n', "row 2: has keys ['prompt']"),
    ("x.jsonl", GOOD.encode() + b'{"instruction": "caf\xe9", "output": "o"}\n', "line 2 is not UTF-8"),
    ("x.json", "[" * 100_000, "nested too deeply"),
    ("x.json", '{"rows": []}', "top level is dict; need a list"),
], ids=["bad-json-line-2", "list-row", "string-row", "number-row", "null-in-json-list", "dict-field",
        "unknown-keys", "not-utf8", "deep-json", "not-a-list"])
def test_a_malformed_instruction_file_names_the_line(tmp_path: Path, name: str, content: Any,
                                                     says: str) -> None:
    path = write(tmp_path, name, content)

    with pytest.raises(StepInputError) as info:
        read_rows(path)

    assert str(info.value).startswith(f"data file {path}") or str(info.value).startswith(path)
    assert says in str(info.value), str(info.value)


def test_a_garbage_parquet_file_is_bad_input(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    path = write(tmp_path, "x.parquet", b"PAR1 this is not parquet at all PAR1")

    with pytest.raises(StepInputError, match=r"not a readable parquet file \(ArrowInvalid"):
        read_rows(path)


def test_a_folder_where_a_file_should_be_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "x.jsonl").mkdir()

    with pytest.raises(StepInputError, match="does not exist"):
        read_rows(str(tmp_path / "x.jsonl"))


# -- through the step entrypoint: exit 3 -----------------------------------------------------------
def _plan(tmp_path: Path, native: str) -> tuple[Plan, FileStore]:
    write(tmp_path, "en.jsonl", GOOD * 4)
    doc = make_spec(data={"native": {"kind": "files", "path": native},
                          "english": {"kind": "files", "path": str(tmp_path / "en.jsonl")},
                          "size": 1})
    plan = build_plan(parse_spec(doc))
    store = FileStore(tmp_path / "store")
    for step in plan.steps:
        store.put_json(f"steps/{step.kind}/{step.key}/_step.json", step.definition())
    return plan, store


def _run(store: FileStore, kind: str, key: str, capsys: Any) -> tuple[int, str]:
    code = step_main(["run", "--store", store.uri, "--step", f"{kind}/{key}"])
    return code, capsys.readouterr().out


@pytest.mark.parametrize(("content", "says"), [
    (GOOD + "[1]\n", "row 2: is list"),
    (GOOD + "{oops\n", "line 2 is not valid JSON"),
], ids=["not-an-object", "bad-json"])
def test_a_bad_instruction_file_exits_3(tmp_path: Path, capsys: Any, content: str, says: str) -> None:
    plan, store = _plan(tmp_path, write(tmp_path, "es.jsonl", content))
    native = next(s for s in plan.steps if s.kind == "prepare" and s.params["role"] == "native")

    code, out = _run(store, "prepare", native.key, capsys)

    assert code == EXIT_BAD_INPUT and says in out, out
    assert not store.is_done("prepare", native.key)


def test_a_damaged_upstream_artifact_names_the_step_that_wrote_it(tmp_path: Path, capsys: Any) -> None:
    """Bytes its marker vouches for that do not parse (a legacy marker vouches for nothing): the
    producer is recomputed (marker moved aside), this step exits 4 (a free retry) naming it."""
    plan, store = _plan(tmp_path, write(tmp_path, "es.jsonl", GOOD * 2))
    native = next(s for s in plan.steps if s.kind == "prepare" and s.params["role"] == "native")
    english = next(s for s in plan.steps if s.kind == "prepare" and s.params["role"] == "english")
    assert _run(store, "prepare", native.key, capsys)[0] == 0
    store.put_bytes(f"steps/prepare/{native.key}/data.jsonl", b'{"instruction": "trunc')
    store.put_marker("prepare", native.key, {}, files=store.step_manifest("prepare", native.key))

    code, out = _run(store, "prepare", english.key, capsys)

    assert code == EXIT_INPUT_DAMAGED
    assert f"the output of step prepare/{native.key[:12]} is damaged" in out, out
    assert "line 1 is not JSON" in out and "recomputed" in out
    assert not store.is_done("prepare", native.key)


# -- benchmark files -------------------------------------------------------------------------------
def test_benchmark_rows_missing_a_field_are_named_before_the_model_loads() -> None:
    rows = [{"instruction": "q", "option_a": "a", "option_b": "b", "option_c": "c", "option_d": "d",
             "answer": "A"}] * 3 + [{"instruction": "q", "option_a": "a"}]

    with pytest.raises(StepInputError) as info:
        require_fields("okapi_mmlu", "eval", rows, ["test.jsonl"])

    assert str(info.value).startswith("benchmark file(s) test.jsonl: row 4 lacks option_b, option_c, "
                                      "option_d, answer"), str(info.value)


def test_benchmark_check_runs_reads_every_row(tmp_path: Path) -> None:
    pytest.importorskip("lm_eval")
    from nativejobs.benchmarks.harness import HarnessBenchmarkRun, check_runs

    good = {"instruction": "q", "option_a": "a", "option_b": "b", "option_c": "c", "option_d": "d",
            "answer": "A"}
    lines = [json.dumps(good)] * 6 + [json.dumps({"instruction": "q"})]
    path = write(tmp_path, "test.jsonl", "\n".join(lines) + "\n")
    run = HarnessBenchmarkRun(name="mc", kind="okapi_mmlu", language="es", shots=0, path=path)

    with pytest.raises(StepInputError, match="row 7 lacks option_a"):
        check_runs([run], tmp_path / "tasks")


@pytest.mark.parametrize(("name", "content", "says"), [
    ("t.csv", "a,b\n1,\"" + "x" * 200_000 + "\"\n", "line 2 is not valid CSV"),
    ("t.json", '{"data": [{"paragraphs": [{"context": "c", "qas": [{"id": "1", "question": "q", '
     '"answers": [{"text": "t", "answer_start": "zero"}]}]}]}]}', "answer_start is not a whole number"),
    ("t.json", "[" * 100_000, "JSON nested too deeply"),
    ("t.jsonl", '{"a": 1}\n' + "[" * 100_000 + "\n", "line 2 is nested too deeply"),
], ids=["csv-field-limit", "squad-answer-start", "deep-json", "deep-jsonl"])
def test_a_malformed_benchmark_file_is_bad_input(tmp_path: Path, name: str, content: str, says: str) -> None:
    path = write(tmp_path, name, content)

    with pytest.raises(StepInputError, match=says):
        read_benchmark_rows(path)
