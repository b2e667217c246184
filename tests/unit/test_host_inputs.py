"""Local input files of a cluster run: uploaded once to the store's mirror, read from there by
step pods through rewritten params, with step keys unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from nativejobs.errors import SpecError
from nativejobs.host_inputs import (
    MIRROR_PREFIX,
    is_host_path,
    local_inputs,
    mirror_params,
    names_host_file,
    upload_host_inputs,
)
from nativejobs.plan import build_plan
from nativejobs.spec import parse_spec
from nativejobs.store import FileStore
from tests.unit.builders import make_spec

MIRROR = "s3://runs/study/inputs/host"


def test_mirror_rewrites_local_paths_at_any_depth_and_nothing_else() -> None:
    params = {"source": {"kind": "files", "path": "/data/{lang}.jsonl"},
              "benchmarks": [{"path": "/b/qa.json", "dev_path": "/b/dev.json", "name": "/not-a-path"}],
              "model": {"id": "/models/local"}, "s3": {"path": "s3://b/x.json"}, "rel": {"path": "x.json"}}

    assert mirror_params(params, MIRROR) == {
        "source": {"kind": "files", "path": f"{MIRROR}/data/{{lang}}.jsonl"},
        "benchmarks": [{"path": f"{MIRROR}/b/qa.json", "dev_path": f"{MIRROR}/b/dev.json",
                        "name": "/not-a-path"}],
        "model": {"id": "/models/local"}, "s3": {"path": "s3://b/x.json"}, "rel": {"path": "x.json"}}
    assert mirror_params(params, None) is params


def _study(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir(parents=True)
    for lang in ("es", "en"):
        (tmp_path / "data" / f"{lang}.jsonl").write_text(f'{{"instruction": "{lang}", "output": "o"}}\n')
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "qa.es.json").write_text("{}")
    return tmp_path


def _spec(root: Path, **overrides: object):  # type: ignore[no-untyped-def]
    doc = make_spec(benchmarks=[{"name": "qa", "kind": "xquad", "path": "bench/qa.{lang}.json"}],
                    **overrides)
    return parse_spec(doc, base_dir=root)


def test_upload_sends_each_file_once_and_again_when_it_changes(tmp_path: Path) -> None:
    root = _study(tmp_path / "study")
    store = FileStore(tmp_path / "store")
    spec = _spec(root)

    first = upload_host_inputs(spec, store)
    assert sorted(Path(f).relative_to(root).as_posix() for f in first) == [
        "bench/qa.es.json", "data/en.jsonl", "data/es.jsonl"]
    assert store.get_bytes(f"{MIRROR_PREFIX}{root}/data/es.jsonl") == (root / "data/es.jsonl").read_bytes()
    assert upload_host_inputs(spec, store) == []

    (root / "data/es.jsonl").write_text('{"instruction": "changed", "output": "o"}\n')
    assert upload_host_inputs(spec, store) == [str(root / "data/es.jsonl")]
    assert b"changed" in store.get_bytes(f"{MIRROR_PREFIX}{root}/data/es.jsonl")


def test_a_local_path_that_matches_nothing_is_named(tmp_path: Path) -> None:
    root = _study(tmp_path)
    spec = _spec(root, data={"native": {"kind": "files", "path": "missing/{lang}.jsonl"},
                             "english": {"kind": "files", "path": "data/en.jsonl"}, "size": 1})

    with pytest.raises(SpecError) as info:
        upload_host_inputs(spec, FileStore(tmp_path / "store"))
    assert info.value.problems == [f"data.native.path: {root}/missing/{{lang}}.jsonl matches no file on "
                                   "this machine; fix the path or give an s3:// URI"]


def test_mirrored_params_read_the_uploaded_copy_and_keys_do_not_move(tmp_path: Path) -> None:
    root = _study(tmp_path / "study")
    store = FileStore(tmp_path / "store")
    spec = _spec(root)
    upload_host_inputs(spec, store)
    native = next(s for s in build_plan(spec).steps if s.params.get("role") == "native")

    mirrored = mirror_params(native.params, str(tmp_path / "store" / MIRROR_PREFIX))
    path = mirrored["source"]["path"].replace("{lang}", "es")
    assert Path(path).read_bytes() == (root / "data/es.jsonl").read_bytes()
    assert build_plan(spec).steps == build_plan(_spec(root)).steps  # the plan never sees the mirror
    assert [f for f, _ in local_inputs(spec)] == ["data.native.path", "data.english.path",
                                                  "benchmarks[0].path"]


@pytest.mark.parametrize(("key", "value", "is_host"), [
    pytest.param("path", "/data/{lang}.jsonl", True, id="absolute"),
    pytest.param("dev_path", "bench/dev.json", True, id="relative"),
    pytest.param("path", "s3://b/x.json", False, id="s3"),
    pytest.param("path", "", False, id="empty"),
    pytest.param("dev_path", None, False, id="none"),
    pytest.param("name", "/not-a-path", False, id="other-key"),
    pytest.param("id", "/models/local", False, id="model-id"),
])
def test_one_predicate_says_which_params_are_host_paths(key: str, value: object, is_host: bool) -> None:
    assert is_host_path(key, value) is is_host
    assert names_host_file({"benchmarks": [{"name": "qa", key: value}]}) is is_host
    assert names_host_file([[{"deep": {key: value}}]]) is is_host
