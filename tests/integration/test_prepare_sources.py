"""A ``files`` source on S3 (real MinIO): the prepare step reads JSONL and parquet from a bucket."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from nativejobs.errors import StepInputError
from nativejobs.plan import build_plan
from nativejobs.spec import parse_spec
from nativejobs.steps.__main__ import run_step
from nativejobs.steps.prepare import Source, load_source
from nativejobs.store import FileStore
from tests.unit.builders import make_spec

pytestmark = pytest.mark.integration


def test_prepare_reads_s3_files_in_json_lines_and_parquet(s3_env, fresh_bucket: str, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_env.endpoint_url)
    client = s3_env.client()
    native = [{"id": f"es_{i}", "instruction": f"pregunta {i}", "input": "", "output": f"respuesta {i}"}
              for i in range(6)]
    client.put_object(Bucket=fresh_bucket, Key="data/es.jsonl",
                      Body="".join(json.dumps(r, ensure_ascii=False) + "\n" for r in native).encode())
    english = pa.Table.from_pylist([{"inputs": f"question {i}", "targets": f"answer {i}",
                                     "language_code": "eng"} for i in range(10)])
    buf = io.BytesIO()
    pq.write_table(english, buf)
    client.put_object(Bucket=fresh_bucket, Key="data/en.parquet", Body=buf.getvalue())

    doc = make_spec()
    doc["data"] = {"native": {"kind": "files", "path": f"s3://{fresh_bucket}/data/{{lang}}.jsonl"},
                   "english": {"kind": "files", "path": f"s3://{fresh_bucket}/data/en.parquet"},
                   "size": 4, "seed": 0}
    plan = build_plan(parse_spec(doc))
    store = FileStore(tmp_path / "store")
    prepares = [s for s in plan.steps if s.kind == "prepare"]
    for step in prepares:
        store.put_json(f"steps/prepare/{step.key}/_step.json", step.definition())
        assert run_step(store.uri, step.ref) == 0

    got = [store.get_jsonl(f"steps/{s.ref}/data.jsonl") for s in prepares]
    assert [len(rows) for rows in got] == [4, 4]
    assert {r["id"] for r in got[0]} <= {r["id"] for r in native}
    assert all(r["instruction"].startswith("question ") for r in got[1])

    with pytest.raises(StepInputError, match=rf"s3://{fresh_bucket}/data/ru\.jsonl: cannot be read"):
        load_source(Source(kind="files", path=f"s3://{fresh_bucket}/data/{{lang}}.jsonl"), "ru")
