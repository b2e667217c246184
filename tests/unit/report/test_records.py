"""Import of record files: CSV, JSON and JSONL in the record format, with one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nativejobs.report import ReportInputError, kinds_from_records, load_records

HEADER = "model,language,condition,arm,benchmark,metric,score,n,condition_kind"
CSV = f"""{HEADER}
llama-2-7b,es,native,lr-1e-4,xquad,exact_match,0.412,1190,native
llama-2-7b,es,google,lr-1e-4,xquad,exact_match,0.371,1190,translated
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_records_are_typed(tmp_path: Path) -> None:
    records = load_records(write(tmp_path, "paper.csv", CSV))

    assert records[0] == {"model": "llama-2-7b", "language": "es", "condition": "native",
                          "arm": "lr-1e-4", "benchmark": "xquad", "metric": "exact_match",
                          "score": 0.412, "n": 1190, "condition_kind": "native"}
    assert isinstance(records[1]["score"], float) and isinstance(records[1]["n"], int)


@pytest.mark.parametrize("name", ["paper.json", "wrapped.json", "paper.jsonl"])
def test_json_forms_give_the_same_records(tmp_path: Path, name: str) -> None:
    expected = load_records(write(tmp_path, "paper.csv", CSV))
    rows = [{**r, "n": str(r["n"])} for r in expected]  # numbers as strings are fine too
    text = ("\n".join(json.dumps(r) for r in rows) if name.endswith("jsonl")
            else json.dumps({"records": rows} if name.startswith("wrapped") else rows))

    assert load_records(write(tmp_path, name, text)) == expected


def test_extra_columns_are_kept(tmp_path: Path) -> None:
    text = CSV.replace("condition_kind", "condition_kind,source").replace("native\n", "native,paper\n")
    text = text.replace("translated\n", "translated,paper\n")

    assert {r["source"] for r in load_records(write(tmp_path, "x.csv", text))} == {"paper"}


@pytest.mark.parametrize(("name", "text", "expected"), [
    pytest.param("r.csv", "model,language\nm,es\n",
                 "r.csv: row 1: missing key 'condition'", id="missing-key"),
    pytest.param("r.csv", CSV.replace("0.371", ""), "r.csv: row 2: score: empty; give a value",
                 id="empty-value"),
    pytest.param("r.csv", CSV.replace("0.371", "n/a"),
                 "r.csv: row 2: score: got 'n/a'; must be a finite number", id="bad-score"),
    pytest.param("r.csv", CSV.replace("1190,translated", "0,translated"),
                 "r.csv: row 2: n: got '0'; must be a whole number of items >= 1", id="bad-n"),
    pytest.param("r.csv", CSV.replace("1190,translated", "1190,translated,extra"),
                 "r.csv: row 2: 1 more value(s) than the header has columns", id="long-row"),
    pytest.param("r.json", '[{"model": "m"}', "r.json: not valid JSON (line 1", id="bad-json"),
    pytest.param("r.json", '{"rows": []}', "r.json: expected a list of record objects",
                 id="not-a-list"),
    pytest.param("r.json", "[]", "r.json: no records", id="empty"),
    pytest.param("r.xlsx", "", "r.xlsx: unknown record file type '.xlsx'", id="suffix"),
])
def test_bad_files_name_file_row_and_key(tmp_path: Path, name: str, text: str, expected: str) -> None:
    path = write(tmp_path, name, text)

    with pytest.raises(ReportInputError) as e:
        load_records(path)

    assert str(e.value).startswith(f"{tmp_path}/{expected}")


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = CSV.replace("0.412", "").replace(",lr-1e-4,xquad,exact_match,0.371", ",,xquad,exact_match,x")

    with pytest.raises(ReportInputError) as e:
        load_records(write(tmp_path, "r.csv", text))

    lines = str(e.value).splitlines()
    assert [line.split(": ", 1)[1] for line in lines] == [
        "row 1: score: empty; give a value", "row 2: arm: empty; give a value",
        "row 2: score: got 'x'; must be a finite number"]


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ReportInputError, match=r"nope.csv: cannot read the record file"):
        load_records(tmp_path / "nope.csv")


# -- condition kinds -----------------------------------------------------------------------------
def test_kinds_from_the_condition_kind_column(tmp_path: Path) -> None:
    records = load_records(write(tmp_path, "paper.csv", CSV))

    assert kinds_from_records(records) == {"native": "native", "google": "translated"}
    assert kinds_from_records(records, {"google": "round_trip"})["google"] == "round_trip"


def test_kinds_problems_are_all_named() -> None:
    records = [{"condition": "native"}, {"condition": "google", "condition_kind": "translated"},
               {"condition": "google", "condition_kind": "round_trip"},
               {"condition": "rtt", "condition_kind": "roundtrip"}]

    with pytest.raises(ReportInputError) as e:
        kinds_from_records(records, {"cohere": "mt"})

    assert str(e.value).splitlines() == [
        "kind 'mt' of condition 'cohere' is not one of native, translated, round_trip",
        "condition 'native' has no kind; add a condition_kind column (native, translated, "
        "round_trip) or pass native=KIND",
        "condition 'google' has several kinds in the records: round_trip, translated; give it one",
        "condition 'rtt': condition_kind 'roundtrip' is not one of native, translated, round_trip",
    ]
