"""Where tests find the public test data (tests/data.py), and scripts/test-data.sh, which fetches it.

The hub and GitHub cannot be reached from here, so the script is run against copies served as
``file://`` URLs: a mirror of the layout, and a tree laid out as the origin repositories are
(``BASE/REPO/COMMIT/PATH``, with an ``exemplars.py`` in url-nlp's shape for the MGSM exemplars).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.data import DATASETS, ENV, FETCH, data_root, require_data

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "test-data.sh"
RAW = "https://raw.githubusercontent.com/"


def rows() -> list[list[str]]:
    """scripts/test-data.tsv: path, git blob, repo@commit, origin path."""
    lines = (REPO / "scripts" / "test-data.tsv").read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line and not line.startswith("#")]


def fetch(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=300, env=env)


# --- tests/data.py ---------------------------------------------------------------------------


def test_the_variable_wins_over_the_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ENV, str(tmp_path))
    assert data_root() == tmp_path.resolve()
    monkeypatch.delenv(ENV)
    assert data_root() == REPO.parent / "shared" / "data"


def test_missing_data_fails_naming_the_variable_and_the_script(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    (tmp_path / "aya").mkdir()
    (tmp_path / "aya" / "a.json").write_text("[]")
    monkeypatch.setenv(ENV, str(tmp_path))
    with pytest.raises(pytest.fail.Exception) as whole:
        require_data()
    with pytest.raises(pytest.fail.Exception) as one:
        require_data("xquad", "xquad.es.json")
    for message in (str(whole.value), str(one.value)):
        assert ENV in message and FETCH in message and str(tmp_path) in message
    assert "missing xquad, mgsm, cmmlu, ceval, openqa." in str(whole.value)
    assert "missing xquad/xquad.es.json." in str(one.value)


# --- scripts/test-data.sh --------------------------------------------------------------------


def test_the_list_covers_every_dataset_from_pinned_commits() -> None:
    listed = rows()
    assert len(listed) == 288  # shared/data/MANIFEST.md: 288 files
    assert {r[0].split("/")[0] for r in listed} == set(DATASETS)
    for path, blob, origin, _ in listed:
        repo, commit = origin.split("@")
        assert len(blob) == len(commit) == 40, path
        assert repo.count("/") == 1, path


def test_dry_run_lists_each_file_with_its_source_and_target(tmp_path: Path) -> None:
    done = fetch("--dry-run", str(tmp_path / "d"))
    assert done.returncode == 0, done.stderr
    lines = [line.split("\t") for line in done.stdout.splitlines()]
    assert [target for target, _ in lines] == [str(tmp_path / "d" / r[0]) for r in rows()]
    listed = {r[0]: r for r in rows()}
    for target, source in lines:
        path, _, origin, origin_path = listed[target.removeprefix(f"{tmp_path / 'd'}/")]
        repo, commit = origin.split("@")
        verb = "derive from" if path.startswith("mgsm/mgsm_exemplars_") else "from"
        assert source == f"{verb} {RAW}{repo}/{commit}/{origin_path}"
    assert not (tmp_path / "d").exists()
    assert "288 files into" in done.stderr


def test_dry_run_defaults_to_the_variable_then_shared_data(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin"}
    first = fetch("--dry-run", env={**env, ENV: str(tmp_path)}).stdout.split("\t", 1)[0]
    assert first.startswith(f"{tmp_path}/aya/")
    first = fetch("--dry-run", env=env).stdout.split("\t", 1)[0]
    assert first.startswith(f"{REPO.parent / 'shared' / 'data'}/aya/")


def test_verify_accepts_the_shared_data(shared_data: Path) -> None:
    done = fetch("--verify", str(shared_data))
    assert done.returncode == 0, done.stderr
    assert "288 of 288 files" in done.stderr


def test_a_mirror_fetch_is_complete_idempotent_and_repairs(shared_data: Path, tmp_path: Path) -> None:
    target, mirror = tmp_path / "data", f"file://{shared_data}"
    done = fetch("--mirror", mirror, str(target))
    assert done.returncode == 0, done.stderr
    assert "288 fetched" in done.stderr and f"export {ENV}={target}" in done.stderr
    assert fetch("--verify", str(target)).returncode == 0

    again = fetch("--mirror", mirror, str(target))
    assert again.returncode == 0 and "288 present" in again.stderr

    (target / "xquad" / "xquad.es.json").write_text("partial")
    (target / "ceval" / "dev" / "law_dev.csv").unlink()
    assert fetch("--verify", str(target)).returncode == 1
    repaired = fetch("--mirror", mirror, str(target))
    assert "2 fetched, 286 present" in repaired.stderr
    xquad = "xquad/xquad.es.json"
    assert (target / xquad).read_bytes() == (shared_data / xquad).read_bytes()


def test_an_unreachable_source_fails_with_what_to_do(tmp_path: Path) -> None:
    done = fetch("--mirror", f"file://{tmp_path}/nowhere", str(tmp_path / "data"))
    assert done.returncode == 1
    assert "FAILED aya/aya_native_data_processed.es.json: file://" in done.stderr
    assert "288 of 288 files could not be fetched" in done.stderr and "Rerun" in done.stderr


def test_a_file_with_other_content_is_refused(shared_data: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    shutil.copytree(shared_data, mirror)
    (mirror / "openqa" / "test_es.jsonl").write_text('{"id": "x", "prompt": "changed"}\n')
    done = fetch("--mirror", f"file://{mirror}", str(tmp_path / "data"))
    assert done.returncode == 1
    assert "FAILED openqa/test_es.jsonl:" in done.stderr and "not the expected" in done.stderr
    assert not (tmp_path / "data" / "openqa" / "test_es.jsonl").exists()
    assert (tmp_path / "data" / "openqa" / "test_ru.jsonl").is_file()


def test_origin_fetch_maps_each_file_and_derives_the_mgsm_exemplars(shared_data: Path,
                                                                     tmp_path: Path) -> None:
    """The origins' trees rebuilt from shared/data (file://BASE/REPO/COMMIT/PATH); exemplars.py
    in url-nlp's shape: MGSM_EXEMPLARS[lang][id] = {q, a}, EXEMPLAR_NUMBER_ANSWERS."""
    base = tmp_path / "github"
    exemplars: dict[str, dict[str, dict[str, str]]] = {}
    numbers: list[int] = []
    for path, _, origin, origin_path in rows():
        repo, commit = origin.split("@")
        dest = base / repo / commit / origin_path
        dest.parent.mkdir(parents=True, exist_ok=True)
        if path.startswith("mgsm/mgsm_exemplars_"):
            items = json.loads((shared_data / path).read_text(encoding="utf-8"))
            lang = path.removesuffix(".json").rsplit("_", 1)[1]
            exemplars[lang] = {e["id"]: {"q": e["q"], "a": e["a"]} for e in items}
            numbers = [e["number_answer"] for e in items]
            exemplars_py = dest
        else:
            shutil.copyfile(shared_data / path, dest)
    exemplars_py.write_text(f'"""Prompts for mgsm."""\nEXEMPLAR_NUMBER_ANSWERS = {numbers!r}\n\n'
                            f"MGSM_EXEMPLARS = {exemplars!r}\n", encoding="utf-8")

    done = fetch("--github-raw", f"file://{base}", str(tmp_path / "data"))
    assert done.returncode == 0, done.stderr
    assert "288 fetched" in done.stderr
    assert fetch("--verify", str(tmp_path / "data")).returncode == 0
