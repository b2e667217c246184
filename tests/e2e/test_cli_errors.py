"""Bad input never gives a traceback: one line naming the field, the value and the fix; exit 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import nativejobs, tiny_spec


def _misspelt(doc: dict[str, Any]) -> None:
    doc["langauges"] = doc.pop("languages")


def _wrong_type(doc: dict[str, Any]) -> None:
    doc["training"]["epochs"] = "ten"


def _unknown_language(doc: dict[str, Any]) -> None:
    doc["languages"] = ["es", "xx"]


@pytest.mark.parametrize(("edit", "expected"), [
    (_misspelt, "langauges: unknown key"),
    (_wrong_type, "training.epochs: got 'ten'"),
    (_unknown_language, "languages[1]: got 'xx'; unknown language"),
], ids=["misspelt-key", "wrong-type", "unknown-language"])
@pytest.mark.parametrize("command", ["validate", "plan", "submit"])
def test_bad_spec_is_one_line_and_exit_2(tmp_path: Path, write_spec, edit, expected: str,
                                         command: str) -> None:
    doc = tiny_spec(tmp_path / "store")
    edit(doc)
    run = nativejobs(command, str(write_spec(doc)))
    assert run.returncode == 2
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) <= 2 and expected in " ".join(run.stderr.split()), run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    assert not (tmp_path / "store").exists()  # nothing was started


def test_missing_spec_file(tmp_path: Path) -> None:
    run = nativejobs("validate", str(tmp_path / "nope.yaml"))
    assert run.returncode == 2 and "cannot read the spec" in run.stderr


def test_unknown_run_name(tmp_path: Path) -> None:
    run = nativejobs("results", "nothing-here", "--store", str(tmp_path))
    assert run.returncode == 2 and "no run named 'nothing-here'" in run.stderr


def test_bad_results_format(tmp_path: Path) -> None:
    run = nativejobs("results", "x", "--store", str(tmp_path), "--format", "xml")
    assert run.returncode == 2 and "--format: got 'xml'" in run.stderr


# -- issue 11: the real console entry never shows a traceback, and stays bounded -----------------
@pytest.mark.parametrize("args", [
    ["bogus"], ["validate"], ["submit", "x.yaml", "--max-parallel", "abc"],
], ids=["unknown-command", "missing-argument", "not-an-int"])
def test_usage_errors_are_clicks_message_exit_2(args: list[str]) -> None:
    run = nativejobs(*args, timeout=120)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr and "Error:" in run.stderr


def test_debug_after_the_command_is_accepted(tmp_path: Path, write_spec) -> None:
    run = nativejobs("validate", str(write_spec(tiny_spec(tmp_path / "store"))), "--debug", timeout=120)
    assert run.returncode == 0 and "ok tiny" in run.stdout, run.stderr


def test_an_alias_bomb_is_refused_in_bounded_time_and_memory(tmp_path: Path) -> None:
    """Before: a 226 MB error line and 1.8 GB of memory. Now refused under a 1 GiB limit."""
    import resource
    import subprocess
    import sys

    bomb = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    bomb += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    spec = tmp_path / "bomb.yaml"
    spec.write_text("\n".join(bomb) + "\nname: *a8\n", encoding="utf-8")

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))

    run = subprocess.run([sys.executable, "-m", "nativejobs", "validate", str(spec)], capture_output=True,
                         text=True, timeout=60, preexec_fn=limit)
    assert run.returncode == 2, run.stderr[-2000:]
    assert "expand to more than" in run.stderr and len(run.stderr) < 1000
