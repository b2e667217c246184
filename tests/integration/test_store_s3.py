"""The store contract on S3Store against a real MinIO, plus S3-only behaviour."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest

from nativejobs.errors import StoreError, StoreNotFoundError
from nativejobs.gc import collect, remove, step_folders
from nativejobs.runs import RunRecord, RunState
from nativejobs.store import S3Store, Store, open_store, step_dir
from tests.unit.builders import make_plan, make_spec
from tests.unit.test_store import StoreContract

if TYPE_CHECKING:
    from tests.integration.conftest import MinioServer

pytestmark = pytest.mark.integration


class TestS3Store(StoreContract):
    """The contract on a store under a prefix of a bucket (the usual deployment)."""

    @pytest.fixture
    def store(self, s3_store: Store) -> Store:
        return s3_store


class TestS3StoreAtBucketRoot(StoreContract):
    """The contract on a store that is a whole bucket (``s3://bucket``, no prefix)."""

    @pytest.fixture
    def store(self, s3_env: MinioServer, fresh_bucket: str) -> Store:
        return open_store(f"s3://{fresh_bucket}", endpoint_url=s3_env.endpoint_url)


def test_objects_live_under_the_store_prefix(s3_env: MinioServer, fresh_bucket: str) -> None:
    store = open_store(f"s3://{fresh_bucket}/team/run1", endpoint_url=s3_env.endpoint_url)
    store.put_text("steps/train/k1/out.txt", "x")
    listing = s3_env.client().list_objects_v2(Bucket=fresh_bucket)
    assert [o["Key"] for o in listing["Contents"]] == ["team/run1/steps/train/k1/out.txt"]


def test_stores_sharing_a_name_prefix_do_not_see_each_other(
    s3_env: MinioServer, fresh_bucket: str
) -> None:
    one = open_store(f"s3://{fresh_bucket}/run", endpoint_url=s3_env.endpoint_url)
    other = open_store(f"s3://{fresh_bucket}/run2", endpoint_url=s3_env.endpoint_url)
    one.put_text("a.txt", "1")
    other.put_text("b.txt", "2")
    assert (one.list(""), other.list("")) == (["a.txt"], ["b.txt"])
    one.delete_prefix("")
    assert other.list("") == ["b.txt"]


def test_list_pages_past_one_thousand_objects(s3_store: Store) -> None:
    paths = [f"many/{i:05d}.txt" for i in range(1003)]  # S3 lists at most 1000 keys per page
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda p: s3_store.put_bytes(p, b""), paths))
    assert s3_store.list("many") == paths
    s3_store.delete_prefix("many")  # in batches of at most 1,000
    assert s3_store.list("many") == []


def test_endpoint_comes_from_the_aws_environment(
    s3_env: MinioServer, fresh_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_env.endpoint_url)
    store = open_store(f"s3://{fresh_bucket}/p")
    store.put_text("f.txt", "via env")
    assert store.get_text("f.txt") == "via env"


@pytest.mark.parametrize("op", ["put", "get", "list", "is_done"])
def test_missing_bucket_is_a_store_error_naming_the_bucket(s3_env: MinioServer, op: str) -> None:
    store = open_store("s3://no-such-bucket-here/p", endpoint_url=s3_env.endpoint_url)
    calls = {
        "put": lambda: store.put_text("f.txt", "x"),
        "get": lambda: store.get_text("f.txt"),
        "list": lambda: store.list(""),
        "is_done": lambda: store.is_done("train", "k1"),
    }
    with pytest.raises(StoreError, match="'no-such-bucket-here' does not exist") as err:
        calls[op]()
    assert not isinstance(err.value, StoreNotFoundError)


def test_wrong_credentials_are_a_store_error(
    s3_env: MinioServer, fresh_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    store = open_store(f"s3://{fresh_bucket}/p", endpoint_url=s3_env.endpoint_url)
    assert isinstance(store, S3Store)
    with pytest.raises(StoreError, match="SignatureDoesNotMatch"):
        store.put_text("f.txt", "x")


def test_gc_deletes_the_garbage_on_s3(s3_store: Store) -> None:
    plan = make_plan()
    RunState(s3_store, "study").put_record(RunRecord.of(make_spec(), plan, now=0.0))
    for step in plan.steps:
        s3_store.put_text(f"{step_dir(step.kind, step.key)}/out.txt", "kept")
    s3_store.put_bytes("steps/train/0123abcd/adapter.bin", b"x" * 3000)  # an edited-away step

    found = collect(s3_store)
    assert [(f.key, f.files, f.bytes) for f in found.garbage] == [("0123abcd", 1, 3000)]
    assert remove(s3_store, found) == found.garbage
    assert s3_store.list("steps/train/0123abcd") == []
    assert len(step_folders(s3_store.sizes("steps"))) == len(plan.steps)
