"""Upstream benchmark files read into the hub datasets' rows (local files; S3 is covered by the
store's integration tests through the same ``open_store``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from nativejobs.benchmarks._upstream import expand, read_rows, read_split, subject_of
from nativejobs.errors import StepInputError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "benchmarks"


def test_expand_a_file_a_folder_and_a_glob(data: Path) -> None:
    one = str(data / "cmmlu" / "test" / "agronomy.csv")
    assert expand(one) == [one]
    folder = expand(str(data / "cmmlu" / "test"))
    assert len(folder) == 67 and folder == sorted(folder)
    assert expand(str(data / "ceval" / "val" / "a*_val.csv")) == [
        str(data / "ceval" / "val" / f"{s}_val.csv")
        for s in ("accountant", "advanced_mathematics", "art_studies")]


def test_expand_names_the_source_that_matched_nothing(tmp_path: Path) -> None:
    with pytest.raises(StepInputError, match=r"no \.json/\.jsonl/\.csv/\.tsv/\.parquet file found"):
        expand(str(tmp_path / "*.csv"))


def test_squad_json_is_flattened_to_the_hub_rows(data: Path) -> None:
    rows = read_split([str(data / "xquad" / "xquad.es.json")], "squad")
    assert len(rows) == 1190
    first = rows[0]
    assert set(first) == {"id", "title", "context", "question", "answers"}
    assert first["answers"]["text"][0] in first["context"]
    assert first["context"][first["answers"]["answer_start"][0]:].startswith(first["answers"]["text"][0])


def test_mgsm_tsv_and_exemplars_become_hub_rows(data: Path) -> None:
    test = read_split([str(data / "mgsm" / "mgsm_es.tsv")], "mgsm")
    shots = read_split([str(data / "mgsm" / "mgsm_exemplars_es.json")], "mgsm")
    assert len(test) == 250 and test[0]["answer"] is None and isinstance(test[0]["answer_number"], int)
    assert len(shots) == 8
    assert shots[0]["question"].startswith("Pregunta:")
    assert shots[0]["answer"].startswith("Respuesta paso a paso:")


def test_csv_drops_the_unnamed_index_column(data: Path) -> None:
    row = read_rows(str(data / "cmmlu" / "test" / "agronomy.csv"))[0]
    assert list(row) == ["Question", "A", "B", "C", "D", "Answer"]
    mmmlu = read_rows(str(FIXTURES / "mmmlu" / "test" / "mmlu_ES-LA.csv"))
    assert mmmlu[0]["Subject"] == "high_school_geography"


def test_jsonl_rows() -> None:
    rows = read_rows(str(FIXTURES / "m_mmlu" / "es" / "train.jsonl"))
    assert len(rows) == 5 and rows[0]["answer"] in "ABCD"


@pytest.mark.parametrize(("name", "text", "match"), [
    pytest.param("bad.json", "{not json", "invalid JSON at line 1", id="json"),
    pytest.param("bad.jsonl", '{"a": 1}\n[1]\n', "line 2 is not an object", id="jsonl"),
    pytest.param("bad.csv", "a,b\n1,2,3\n", "more fields than the header", id="csv"),
    pytest.param("bad.tsv", "question only\n", "1 tab-separated fields, not 2", id="mgsm-tsv"),
    pytest.param("bad.txt", "x", "unknown format", id="suffix"),
])
def test_bad_files_name_themselves(write: Callable[[str, str], str], name: str, text: str,
                                   match: str) -> None:
    path = write(name, text)
    with pytest.raises(StepInputError, match=match) as info:
        read_split([path], "mgsm" if name.endswith(".tsv") else "hf")
    assert path in str(info.value)


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(StepInputError, match="not found"):
        read_split([str(tmp_path / "nope.csv")], "hf")


def test_subject_of_drops_the_split_suffix() -> None:
    assert subject_of("/x/ceval/val/accountant_val.csv", "_val") == "accountant"
    assert subject_of("s3://b/cmmlu/test/agronomy.csv") == "agronomy"
