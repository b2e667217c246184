"""The store contract, run here on FileStore; tests/integration runs it on S3Store (MinIO).

``StoreContract`` is every behaviour both backends must share. A subclass supplies the
``store`` fixture: ``TestFileStore`` below, ``TestS3Store`` in tests/integration/test_store_s3.py.
The rest of this module is FileStore-only (atomicity, path escapes) and ``open_store`` parsing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from nativejobs.errors import StoreError, StoreNotFoundError
from nativejobs.store import (
    MARKER,
    MARKER_FORMAT_VERSION,
    FileStore,
    S3Store,
    Store,
    open_store,
    step_dir,
)

ROUND_TRIPS = [
    pytest.param("put_bytes", "get_bytes", b"\x00\xffbinary\n", id="bytes"),
    pytest.param("put_text", "get_text", "héllo, wörld ✓\nline 2", id="text"),
    pytest.param(
        "put_json", "get_json", {"b": [1, 2.5, None], "a": "ñ", "nested": {"t": True}}, id="json"
    ),
    pytest.param("put_jsonl", "get_jsonl", [{"i": 0, "s": "ü"}, {"i": 1, "s": ""}], id="jsonl"),
]

NESTED_FILES = {"a.txt": b"a", "sub/b.bin": b"\x00\x01", "sub/deeper/c.json": b"{}\n"}


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    """Create ``files`` (relative path -> content) under ``root``."""
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


class StoreContract:
    """Behaviour every Store backend shares; subclasses provide the ``store`` fixture."""

    @pytest.fixture
    def store(self) -> Store:
        raise NotImplementedError("a StoreContract subclass must define the store fixture")

    @pytest.mark.parametrize(("put", "get", "value"), ROUND_TRIPS)
    def test_round_trip(self, store: Store, put: str, get: str, value: Any) -> None:
        getattr(store, put)("runs/r1/value", value)
        assert getattr(store, get)("runs/r1/value") == value

    @pytest.mark.parametrize("get", ["get_bytes", "get_text", "get_json", "get_jsonl"])
    def test_get_missing_raises_not_found(self, store: Store, get: str) -> None:
        with pytest.raises(StoreNotFoundError, match=r"nope/missing\.json"):
            getattr(store, get)("nope/missing.json")

    def test_get_of_a_directory_like_prefix_is_not_found(self, store: Store) -> None:
        store.put_text("d/f.txt", "x")
        with pytest.raises(StoreNotFoundError):
            store.get_bytes("d")

    def test_exists(self, store: Store) -> None:
        store.put_text("d/f.txt", "x")
        assert store.exists("d/f.txt")
        assert not store.exists("d/missing.txt")
        assert not store.exists("d")  # a prefix is not an object

    def test_overwrite_replaces_content(self, store: Store) -> None:
        store.put_text("f.txt", "a much longer first version")
        store.put_text("f.txt", "v2")
        assert store.get_text("f.txt") == "v2"
        assert store.list("") == ["f.txt"]

    def test_list_is_recursive_sorted_and_relative_to_the_root(self, store: Store) -> None:
        for path in ["a/b/z.txt", "a/b/c/d.txt", "a/b/a.txt", "other/x.txt"]:
            store.put_text(path, path)
        assert store.list("a/b") == ["a/b/a.txt", "a/b/c/d.txt", "a/b/z.txt"]
        assert store.list("a/b/") == ["a/b/a.txt", "a/b/c/d.txt", "a/b/z.txt"]
        assert store.list("") == ["a/b/a.txt", "a/b/c/d.txt", "a/b/z.txt", "other/x.txt"]

    def test_list_excludes_siblings_sharing_a_name_prefix(self, store: Store) -> None:
        store.put_text("a/b/1.txt", "in")
        store.put_text("a/bc/2.txt", "sibling dir")
        store.put_text("a/bc.txt", "sibling file")
        assert store.list("a/b") == ["a/b/1.txt"]

    def test_list_of_an_object_path_is_that_object(self, store: Store) -> None:
        store.put_text("a/b.txt", "x")
        assert store.list("a/b.txt") == ["a/b.txt"]

    def test_sizes_are_each_objects_bytes(self, store: Store) -> None:
        store.put_bytes("s/a.bin", b"x" * 1000)
        store.put_bytes("s/b/c.bin", b"")
        store.put_text("t.txt", "not under s")
        assert store.sizes("s") == {"s/a.bin": 1000, "s/b/c.bin": 0}
        assert store.sizes("s/a.bin") == {"s/a.bin": 1000}

    def test_list_of_a_missing_prefix_is_empty(self, store: Store) -> None:
        assert store.list("nothing/here") == []

    def test_list_shows_user_files_named_like_temp_files(self, store: Store) -> None:
        store.put_text("logs/run.tmp", "a user artifact, not a temp file")
        assert store.list("logs") == ["logs/run.tmp"]

    def test_delete(self, store: Store) -> None:
        store.put_text("d/f.txt", "x")
        store.put_text("d/g.txt", "y")
        store.delete("d/f.txt")
        assert not store.exists("d/f.txt")
        assert store.list("d") == ["d/g.txt"]

    @pytest.mark.parametrize("path", ["d/missing.txt", "d"], ids=["missing-object", "a-prefix"])
    def test_delete_of_a_non_object_is_a_no_op(self, store: Store, path: str) -> None:
        store.put_text("d/f.txt", "x")
        store.delete(path)
        assert store.list("") == ["d/f.txt"]

    def test_delete_prefix_removes_everything_under_it_and_nothing_else(self, store: Store) -> None:
        for path in ["a/b/1.txt", "a/b/c/2.txt", "a/bc/3.txt", "a/b.txt"]:
            store.put_text(path, path)
        store.delete_prefix("a/b")
        assert store.list("") == ["a/b.txt", "a/bc/3.txt"]
        store.delete_prefix("a/missing")  # a missing prefix is not an error

    def test_delete_prefix_of_an_object_path_deletes_that_object(self, store: Store) -> None:
        store.put_text("a/b.txt", "x")
        store.delete_prefix("a/b.txt")
        assert store.list("") == []

    @pytest.mark.parametrize(
        "prefix", ["steps/train/k1", "steps/train/k1/"], ids=["plain", "trailing-slash"]
    )
    def test_upload_dir_download_dir_round_trip(
        self, store: Store, tmp_path: Path, prefix: str
    ) -> None:
        src = write_tree(tmp_path / "src", NESTED_FILES)
        store.upload_dir(src, prefix)
        store.put_text("steps/train/k10/sibling.txt", "must not be downloaded")
        assert store.list(prefix) == sorted(f"steps/train/k1/{rel}" for rel in NESTED_FILES)
        out = store.download_dir(prefix, tmp_path / "out")
        assert out == tmp_path / "out"
        assert read_tree(out) == NESTED_FILES

    def test_upload_dir_to_the_store_root(self, store: Store, tmp_path: Path) -> None:
        store.upload_dir(write_tree(tmp_path / "src", NESTED_FILES), "")
        assert store.list("") == sorted(NESTED_FILES)

    def test_download_dir_of_an_empty_prefix_raises_not_found(
        self, store: Store, tmp_path: Path
    ) -> None:
        with pytest.raises(StoreNotFoundError, match="nothing stored under"):
            store.download_dir("steps/none", tmp_path / "out")

    def test_marker_round_trip(self, store: Store) -> None:
        assert store.get_marker("train", "k1") is None
        assert not store.is_done("train", "k1")
        store.put_marker("train", "k1", {"metrics": {"loss": 0.5}})
        marker = store.get_marker("train", "k1")
        assert marker is not None
        assert marker["format_version"] == MARKER_FORMAT_VERSION
        assert (marker["kind"], marker["key"], marker["metrics"]) == ("train", "k1", {"loss": 0.5})
        assert isinstance(marker["finished_at"], float)
        assert store.is_done("train", "k1")
        assert store.exists(f"{step_dir('train', 'k1')}/{MARKER}")
        assert not store.is_done("train", "k2")

    def test_many_markers_read_at_once_come_back_in_order(self, store: Store) -> None:
        refs = [("train", f"k{i:02d}") for i in range(40)]
        for kind, key in refs[::3]:
            store.put_marker(kind, key, {"n": key})

        markers = store.get_markers(refs)

        assert [m and m["n"] for m in markers] == [key if i % 3 == 0 else None
                                                   for i, (_, key) in enumerate(refs)]

    def test_marker_meta_cannot_override_identity_fields(self, store: Store) -> None:
        store.put_marker("train", "k1", {"format_version": 99, "kind": "x", "key": "y"})
        marker = store.get_marker("train", "k1")
        assert marker is not None
        assert (marker["format_version"], marker["kind"], marker["key"]) == (
            MARKER_FORMAT_VERSION,
            "train",
            "k1",
        )

    @pytest.mark.parametrize(
        "content",
        [
            pytest.param(
                '{"format_version": 99, "kind": "train", "key": "k1"}', id="future-version"
            ),
            pytest.param('{"kind": "train", "key": "k1"}', id="no-version"),
            pytest.param("[1, 2]", id="not-an-object"),
            pytest.param("{truncated", id="not-json"),
        ],
    )
    def test_unreadable_marker_raises_store_error(self, store: Store, content: str) -> None:
        store.put_text(f"{step_dir('train', 'k1')}/{MARKER}", content)
        with pytest.raises(StoreError, match="train/k1") as err:
            store.get_marker("train", "k1")
        assert not isinstance(err.value, StoreNotFoundError)
        with pytest.raises(StoreError):
            store.is_done("train", "k1")


class TestFileStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Store:
        return FileStore(tmp_path / "store")


# -- FileStore only ------------------------------------------------------------------------------


def all_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_filestore_leaves_no_temp_files(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.put_text("a/f.txt", "v1")
    store.put_text("a/f.txt", "v2")
    store.put_json("a/g.json", {"x": 1})
    assert all_files(tmp_path) == ["a/f.txt", "a/g.json"]


def test_filestore_crashed_write_keeps_the_old_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileStore(tmp_path)
    store.put_text("a/f.txt", "old")

    def crash(src: str, dst: str) -> None:
        raise OSError("simulated crash before the rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        store.put_text("a/f.txt", "new")
    monkeypatch.undo()
    assert store.get_text("a/f.txt") == "old"
    assert all_files(tmp_path) == ["a/f.txt"]


def test_filestore_list_hides_leftover_temp_files(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.put_text("a/f.txt", "x")
    (tmp_path / "a" / ".f.txt.k3j2_x.tmp").write_text("left by a killed writer")
    assert store.list("a") == ["a/f.txt"]


@pytest.mark.parametrize(
    "path", ["../outside.txt", "a/../../outside.txt", "/etc/passwd", "link/x.txt"]
)
def test_filestore_rejects_paths_escaping_the_root(tmp_path: Path, path: str) -> None:
    root = tmp_path / "store"
    root.mkdir()
    (root / "link").symlink_to(tmp_path, target_is_directory=True)
    store = FileStore(root)
    with pytest.raises(StoreError, match="escapes the store root"):
        store.put_text(path, "x")
    with pytest.raises(StoreError, match="escapes the store root"):
        store.get_text(path)
    assert not (tmp_path / "outside.txt").exists()


def test_filestore_allows_dot_dot_that_stays_inside(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.put_text("a/../b.txt", "x")
    assert store.list("") == ["b.txt"]


# -- open_store -----------------------------------------------------------------------------------


def test_filestore_listing_skips_a_file_that_goes_during_the_walk(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = FileStore(tmp_path)
    store.put_text("s/kept.txt", "x")
    store.put_text("s/_SUCCESS.json", "{}")
    real_stat = Path.stat

    def stat(self: Path, **kwargs: Any) -> os.stat_result:
        if self.name == "_SUCCESS.json":  # moved aside by invalidate_marker meanwhile
            raise FileNotFoundError(self)
        return real_stat(self, **kwargs)

    monkeypatch.setattr(Path, "stat", stat)
    assert store.list("s") == ["s/kept.txt"]


def test_open_store_file_uri(tmp_path: Path) -> None:
    store = open_store(f"file://{tmp_path}/s")
    assert isinstance(store, FileStore)
    assert (store.root, store.uri) == (tmp_path / "s", f"file://{tmp_path}/s")


@pytest.mark.parametrize("form", ["absolute", "relative", "file-relative"])
def test_open_store_plain_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, form: str) -> None:
    monkeypatch.chdir(tmp_path)
    uri = {"absolute": str(tmp_path / "s"), "relative": "s", "file-relative": "file://s"}[form]
    store = open_store(uri)
    assert isinstance(store, FileStore)
    assert store.root == tmp_path / "s"


def test_open_store_expands_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    store = open_store("~/s")
    assert isinstance(store, FileStore)
    assert store.root == tmp_path / "s"


@pytest.mark.parametrize(
    ("uri", "bucket", "prefix", "store_uri"),
    [
        ("s3://bkt/some/prefix", "bkt", "some/prefix", "s3://bkt/some/prefix"),
        ("s3://bkt/some/prefix/", "bkt", "some/prefix", "s3://bkt/some/prefix"),
        ("s3://bkt", "bkt", "", "s3://bkt"),
    ],
    ids=["prefix", "trailing-slash", "bucket-root"],
)
def test_open_store_s3(
    monkeypatch: pytest.MonkeyPatch, uri: str, bucket: str, prefix: str, store_uri: str
) -> None:
    monkeypatch.setenv(
        "AWS_REGION", "us-east-1"
    )  # building the client reads config, not the network
    store = open_store(uri, endpoint_url="http://127.0.0.1:1")
    assert isinstance(store, S3Store)
    assert (store.bucket, store.prefix, store.uri) == (bucket, prefix, store_uri)


@pytest.mark.parametrize(
    ("uri", "match"),
    [
        ("gs://bkt/prefix", "scheme 'gs'"),
        ("http://example.com/x", "scheme 'http'"),
        ("s3:///prefix", "names no bucket"),
        ("s3://", "names no bucket"),
    ],
)
def test_open_store_rejects_bad_uris(uri: str, match: str) -> None:
    with pytest.raises(StoreError, match=match):
        open_store(uri)
