"""Benchmark sources on S3 (real MinIO): a folder of per-subject CSVs, a glob, SQuAD JSON and a
parquet export, read through the same code the evaluate step's harness tasks use."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from nativejobs.benchmarks import check_sources, hooks
from nativejobs.benchmarks.harness import HarnessBenchmarkRun, check_runs, write_configs
from nativejobs.errors import StepInputError
from nativejobs.spec import parse_spec
from tests.data import data_root
from tests.unit.builders import make_spec

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("shared_data")]

DATA = data_root()


def test_s3_sources_load_like_local_ones(s3_env: Any, fresh_bucket: str, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pytest.importorskip("lm_eval")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_env.endpoint_url)
    client = s3_env.client()
    for split in ("test", "dev"):
        for subject in ("arts", "virology"):
            client.put_object(Bucket=fresh_bucket, Key=f"cmmlu/{split}/{subject}.csv",
                              Body=(DATA / f"cmmlu/{split}/{subject}.csv").read_bytes())
    client.put_object(Bucket=fresh_bucket, Key="xquad/xquad.es.json",
                      Body=(DATA / "xquad/xquad.es.json").read_bytes())
    rows = [{"instruction": "¿2 + 2?", "option_a": "3", "option_b": "4", "option_c": "5",
             "option_d": "6", "answer": "B"}] * 6
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf)
    client.put_object(Bucket=fresh_bucket, Key="m_mmlu/es.parquet", Body=buf.getvalue())
    s3 = f"s3://{fresh_bucket}"

    runs = [HarnessBenchmarkRun("cmmlu", "cmmlu", "zh", 5, path=f"{s3}/cmmlu/test",
                                dev_path=f"{s3}/cmmlu/dev/*.csv"),
            HarnessBenchmarkRun("xquad", "xquad", "es", 0, path=f"{s3}/xquad/xquad.{{lang}}.json"),
            HarnessBenchmarkRun("mt", "okapi_mmlu", "es", 5, path=f"{s3}/m_mmlu/es.parquet",
                                dev_path=f"{s3}/m_mmlu/es.parquet")]
    check_runs(runs, tmp_path / "tasks")
    configs = write_configs(runs, tmp_path / "tasks")
    cmmlu = configs["cmmlu"].read_text(encoding="utf-8")
    assert f"{s3}/cmmlu/dev/virology.csv" in cmmlu and "cmmlu_arts" in cmmlu
    loaded = hooks.load_files(sources={"test": [f"{s3}/cmmlu/test/virology.csv"]}, layout="hf")
    assert len(loaded["test"]) == 169
    xquad = hooks.load_files(sources={"validation": [f"{s3}/xquad/xquad.es.json"]}, layout="squad")
    assert len(xquad["validation"]) == 1190

    spec = parse_spec(make_spec(languages=["es"], benchmarks=[
        {"name": "xquad", "kind": "xquad", "path": f"{s3}/xquad/xquad.{{lang}}.json"},
        {"name": "mt", "kind": "okapi_mmlu", "path": f"{s3}/m_mmlu/{{lang}}.parquet",
         "dev_path": f"{s3}/m_mmlu/{{lang}}.parquet"},
        {"name": "gone", "kind": "xquad", "path": f"{s3}/nothing/here.json"}]))
    checks = check_sources(spec, list_hub_files=lambda repo, rev: [])
    assert [(c.benchmark, c.status, c.rows) for c in checks] == [
        ("xquad", "ok", 1190), ("mt", "ok", 6), ("mt", "ok", 6), ("gone", "error", None)]
    assert "cannot be read" in checks[-1].message

    with pytest.raises(StepInputError, match=r"no \.json/.* file found"):
        write_configs([HarnessBenchmarkRun("c", "cmmlu", "zh", 0, path=f"{s3}/empty/")], tmp_path)
