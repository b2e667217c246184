"""The CLI's one error boundary (issue 11): usage errors, our errors, and bugs, each as it should be.

- a usage error is typer/click's usage message, exit 2 (typer bundles its own click: catching
  ``click.ClickException`` let every one of them through as a traceback);
- a ``NativeJobsError`` is plain ``error:`` lines, never read as rich markup, exit 2 or 1;
- anything else is a bug: one line and a hint to rerun with ``--debug``, exit 1.

The CLI runs in-process through ``main(argv)``, as the console script calls it.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import pytest
import yaml

from nativejobs import cli
from nativejobs.errors import SpecError
from nativejobs.store import FileStore
from tests.unit.builders import make_spec

MAX_LINE = 500


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        cli.main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert all(len(line) <= MAX_LINE for line in err.splitlines()), err[:2000]
    code = info.value.code
    return (code if isinstance(code, int) else 0), out, err


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]


@pytest.fixture
def spec_path(tmp_path: Path) -> Any:
    def write(**overrides: Any) -> str:
        doc = make_spec(**{"store": str(tmp_path / "store"), **overrides})
        path = tmp_path / "spec.yaml"
        path.write_text(yaml.safe_dump(doc), encoding="utf-8")
        return str(path)

    return write


# -- usage errors: click's message, exit 2 ------------------------------------------------------
@pytest.mark.parametrize(("args", "says"), [
    (["bogus"], "No such command 'bogus'"),
    (["validate"], "Missing argument"),
    (["validate", "x.yaml", "--nope"], "No such option: --nope"),
    (["submit", "x.yaml", "--max-parallel", "abc"], "Invalid value for '--max-parallel'"),
    (["submit", "x.yaml", "--max-parallel", "0"], "Invalid value for '--max-parallel'"),
    (["logs", "run"], "Missing argument"),
    (["results", "--import"], "requires an argument"),
    (["doctor", "--release", "Lab_1"], "Invalid value for '--release': got 'Lab_1'; a Helm release name"),
], ids=["unknown-command", "missing-argument", "unknown-option", "not-an-int", "below-min",
        "missing-second-argument", "option-without-value", "bad-release"])
def test_a_usage_error_is_clicks_message_and_exit_2(capsys: Any, args: list[str], says: str) -> None:
    code, _, err = run(capsys, *args)

    assert code == 2
    assert "Error:" in err and says in err, err
    if args != ["results", "--import"]:  # click's parser reports that one without a context
        assert err.startswith("Usage: nativejobs"), err


def test_a_huge_option_value_is_quoted_short(capsys: Any) -> None:
    code, _, err = run(capsys, "results", "x", "--format", "y" * 100_000)

    assert code == 2 and error_lines(err)[0].startswith("error: --format: got 'yyyy")


def test_debug_after_the_command_is_accepted(capsys: Any, spec_path: Any) -> None:
    code, out, _ = run(capsys, "validate", spec_path(), "--debug")

    assert code == 0 and "ok tiny" in out


def test_debug_shows_the_traceback_of_our_errors(spec_path: Any) -> None:
    with pytest.raises(SpecError):
        cli.main(["validate", spec_path(name="Bad_Name"), "--debug"])


# -- our errors: plain lines -------------------------------------------------------------------
@pytest.mark.parametrize("name", ["[/x]", "[bold red]x", "[link=http://x]y"],
                         ids=["close-tag", "style-tag", "link-tag"])
def test_brackets_in_a_spec_value_are_printed_as_written(capsys: Any, spec_path: Any, name: str) -> None:
    code, _, err = run(capsys, "validate", spec_path(name=name))

    assert code == 2
    assert error_lines(err) == [f"error: name: got {name!r}; string should match the name pattern: "
                                "1-40 lowercase letters, digits or '-', starting and ending with a "
                                "letter or digit (it names Jobs and store paths)"]


@pytest.mark.parametrize("command", ["validate", "plan"])
@pytest.mark.parametrize(("store", "says"), [
    ("s3://[bad", "bucket '[bad' is not an S3 bucket name"),
    ("s3://bucket name/x", "bucket 'bucket name'"),
    ("gs://b/x", "scheme gs:// is not supported"),
], ids=["ipv6-bracket", "space", "gs"])
def test_a_malformed_store_in_the_spec_fails_validate_as_plan(capsys: Any, spec_path: Any, command: str,
                                                             store: str, says: str) -> None:
    code, _, err = run(capsys, command, spec_path(store=store))

    assert code == 2 and says in err, err


@pytest.mark.parametrize(("store", "says"), [
    ("s3://[bad", "--store: got 's3://[bad'"),
    ("/tmp/" + "z" * 300, "longer than 255 bytes"),
], ids=["ipv6-bracket", "long-component"])
def test_a_malformed_store_option_is_exit_2(capsys: Any, spec_path: Any, store: str, says: str) -> None:
    code, _, err = run(capsys, "plan", spec_path(), "--store", store)

    assert code == 2 and says in err, err


def test_a_store_that_is_a_file_is_exit_2(capsys: Any, spec_path: Any, tmp_path: Path) -> None:
    file = tmp_path / "hostname"
    file.write_text("host\n")

    code, _, err = run(capsys, "plan", spec_path(), "--store", str(file))

    assert code == 2 and "is a file, not a folder" in err, err


def test_brackets_in_a_store_path_are_text(capsys: Any, spec_path: Any, tmp_path: Path) -> None:
    code, out, _ = run(capsys, "plan", spec_path(), "--store", str(tmp_path / "[/y]"))

    assert code == 0 and "[/y]" in out


def test_a_read_only_store_is_one_line_exit_1(capsys: Any, spec_path: Any, monkeypatch: Any) -> None:
    def read_only(self: FileStore, path: str, data: bytes) -> None:
        raise OSError(errno.EROFS, "Read-only file system", str(self.root / path))

    monkeypatch.setattr(FileStore, "put_bytes", read_only)

    code, _, err = run(capsys, "submit", spec_path())

    assert code == 1
    assert len(error_lines(err)) == 1 and "Read-only file system" in err and "--debug" in err, err


@pytest.mark.parametrize("command", ["logs", "cancel"])
def test_logs_and_cancel_check_the_backend(capsys: Any, tmp_path: Path, command: str) -> None:
    args = ["run", "abc"] if command == "logs" else ["run"]
    code, _, err = run(capsys, command, *args, "--store", str(tmp_path), "--backend", "bogus")

    assert code == 2 and "--backend: got 'bogus'; use local or k8s" in err


@pytest.mark.parametrize("name", ["../etc", "x" * 300, "a/b", "[/x]"],
                         ids=["dotdot", "long", "slash", "markup"])
def test_a_run_name_that_no_spec_could_have_is_exit_2(capsys: Any, tmp_path: Path, name: str) -> None:
    code, _, err = run(capsys, "status", name, "--store", str(tmp_path))

    assert code == 2 and err.startswith("error: NAME: got "), err


# -- results: files in, files out ---------------------------------------------------------------
HEADER = "model,language,condition,arm,benchmark,metric,score,n,condition_kind\n"


def test_results_output_into_a_missing_folder_is_exit_2(capsys: Any, tmp_path: Path) -> None:
    pytest.importorskip("numpy")
    records = tmp_path / "r.csv"
    records.write_text(HEADER + "m,es,native,a,b,acc,0.5,3,native\nm,es,g,a,b,acc,0.4,3,translated\n")

    code, _, err = run(capsys, "results", "--import", str(records), "-o", str(tmp_path / "no" / "x.md"))

    assert code == 2 and "--output: cannot write" in err, err


@pytest.mark.parametrize(("name", "content", "says"), [
    ("big.csv", HEADER + 'm,es,native,a,b,acc,"' + "x" * 5_000_000 + '",3,native\n',
     "line 2 is not valid CSV (field larger than field limit"),
    ("acc.csv", HEADER + "m,es,native,a,b,acc,1.5,3,native\nm,es,g,a,b,acc,-0.3,3,translated\n",
     "row 1: score: got 1.5; metric acc is a proportion in [0, 1]"),
    ("results.json", '[{"model": "m", "langu', "not valid JSON (line 1"),
    ("bad.jsonl", '{"model": "m"}\n{bad\n', "line 2 is not valid JSON"),
    ("latin.csv", b"model\n\xff\n", "line 2 is not UTF-8"),
    ("deep.json", "[" * 100_000, "nested too deeply"),
], ids=["5mb-field", "acc-out-of-range", "truncated-json", "jsonl-line-2", "not-utf8", "deep-json"])
def test_a_bad_record_file_is_exit_2(capsys: Any, tmp_path: Path, name: str, content: str | bytes,
                                     says: str) -> None:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())

    code, _, err = run(capsys, "results", "--import", str(path))

    assert code == 2 and says in err, err


def test_results_import_dev_zero_is_refused(capsys: Any) -> None:
    code, _, err = run(capsys, "results", "--import", "/dev/zero")

    assert code == 2 and "larger than 64 MiB" in err


# -- anything else is a bug: one line, a hint, exit 1 -------------------------------------------
def test_an_unexpected_exception_is_one_line_and_a_hint(capsys: Any, spec_path: Any,
                                                        monkeypatch: Any) -> None:
    def broken(*_: Any) -> None:
        raise TypeError("boom [/x]")

    monkeypatch.setattr(cli, "build_plan", broken)

    code, _, err = run(capsys, "validate", spec_path())

    assert code == 1
    assert error_lines(err) == ["error: internal error (TypeError: boom [/x]); this is a bug: run "
                                "with --debug for the traceback and report it"]


def test_with_debug_a_bug_shows_its_traceback(spec_path: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(cli, "build_plan", lambda *_: (_ for _ in ()).throw(TypeError("boom")))

    with pytest.raises(TypeError, match="boom"):
        cli.main(["--debug", "validate", spec_path()])


@pytest.mark.parametrize("command", ["status", "results", "cancel"])
def test_a_truncated_run_record_is_named_damaged(capsys: Any, tmp_path: Path, command: str) -> None:
    (tmp_path / "runs" / "tiny").mkdir(parents=True)
    (tmp_path / "runs" / "tiny" / "run.json").write_text('{"name": "ti')

    code, _, err = run(capsys, command, "tiny", "--store", str(tmp_path))

    assert code == 1 and len(error_lines(err)) == 1, err
    assert "run 'tiny' in file://" in err and "a stored file is damaged (not JSON" in err, err


@pytest.mark.parametrize("command", ["render", "doctor"])
def test_render_and_doctor_check_the_store_option_first(capsys: Any, spec_path: Any, command: str) -> None:
    args = [spec_path()] if command == "render" else []
    code, _, err = run(capsys, command, *args, "--store", "s3://[bad")

    assert code == 2 and "--store: got 's3://[bad'" in err, err


def test_a_store_turning_read_only_mid_run_stops_local_steps(capsys: Any, spec_path: Any,
                                                              monkeypatch: Any) -> None:
    from nativejobs.backends.local import LocalBackend
    from nativejobs.orchestrate import Orchestrator

    cancelled: list[bool] = []

    def read_only_pass(self: Any, *_: Any, **__: Any) -> None:
        raise OSError(errno.EROFS, "Read-only file system", "/store/runs/tiny/attempts.json")

    monkeypatch.setattr(Orchestrator, "run", read_only_pass)
    monkeypatch.setattr(LocalBackend, "cancel_all", lambda self, *a, **k: cancelled.append(True))

    code, _, err = run(capsys, "submit", spec_path())

    assert code == 1 and cancelled == [True]
    assert error_lines(err) == ["error: Read-only file system ('/store/runs/tiny/attempts.json'); run "
                                "with --debug for the traceback"]


def test_a_store_below_a_file_is_exit_2(capsys: Any, spec_path: Any, tmp_path: Path) -> None:
    file = tmp_path / "hostname"
    file.write_text("host\n")

    code, _, err = run(capsys, "submit", spec_path(), "--store", str(file / "store"))

    assert code == 2 and f"--store: '{file}' is a file, not a folder" in err, err
