"""Spec reading hardened (issue 11): hostile or broken specs are refused with short, plain lines.

Every case is a finding of the issue's fuzzing: before, each crashed validate or plan with a
traceback, blew up in size, or was accepted although it describes no study.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from nativejobs.errors import SpecError, short_repr
from nativejobs.spec import MAX_YAML_NODES, check_store_uri, load_spec, parse_spec, read_yaml
from tests.unit.builders import make_spec, set_path

MAX_LINE = 400  # no problem line quotes more than ~200 characters of a value


def problems_of(doc: Any, **kwargs: Any) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_spec(doc, **kwargs)
    for line in info.value.problems:
        assert len(line) <= MAX_LINE, line[:500]
    return info.value.problems


def file_problems(tmp_path: Path, content: str | bytes) -> list[str]:
    path = tmp_path / "spec.yaml"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    for line in info.value.problems:
        assert len(line) <= MAX_LINE, line[:500]
    return info.value.problems


def edited(path: str, value: Any) -> dict[str, Any]:
    doc = make_spec()
    set_path(doc, path, value)
    return doc


# -- wrong types where a name is expected: a field error, never a TypeError ---------------------
@pytest.mark.parametrize(("path", "value", "expected"), [
    ("conditions[1].engine", ["a"], "conditions[1].engine: got ['a']"),
    ("conditions[1].engine", {"a": 1}, "conditions[1].engine: got {'a': 1}"),
    ("languages", [["es"]], "languages[0]: got ['es']"),
    ("languages", [{"es": 1}], "languages[0]: got {'es': 1}"),
    ("benchmarks[0].kind", ["xquad"], "benchmarks[0].kind: got ['xquad']"),
    ("benchmarks[0].judges", [["j"]], "benchmarks[0].judges[0]: got ['j']"),
    ("arms[0].conditions", [["native"]], "arms[0].conditions[0]: got ['native']"),
    ("conditions[0].name", ["native"], "conditions[0].name: got ['native']"),
], ids=["engine-list", "engine-dict", "language-list", "language-dict", "kind-list",
        "judges-nested", "arm-conditions-nested", "name-list"])
def test_a_wrong_type_is_a_field_error(path: str, value: Any, expected: str) -> None:
    found = problems_of(edited(path, value))

    assert any(line.startswith(expected) for line in found), found


def test_non_string_mapping_keys_are_field_errors() -> None:
    found = problems_of(make_spec(engines={1: {"kind": "google"}}, judges={None: {}}))

    assert found


# -- what is written is printed as written: brackets are text, not markup -----------------------
@pytest.mark.parametrize("name", ["[/x]", "[bold]x", "Bad_Name"], ids=["close-tag", "open-tag", "case"])
def test_a_bad_name_names_the_pattern_in_words(name: str) -> None:
    found = problems_of(make_spec(name=name))

    assert found == [f"name: got {name!r}; string should match the name pattern: 1-40 lowercase "
                     "letters, digits or '-', starting and ending with a letter or digit (it "
                     "names Jobs and store paths)"]


# -- size: values are quoted short, anchors are bounded -----------------------------------------
def test_a_huge_value_is_quoted_short() -> None:
    found = problems_of(make_spec(name="x" * 200_000))

    assert len(found) == 1 and "200,000 characters" in found[0] and len(found[0]) < MAX_LINE


def test_a_huge_list_value_is_quoted_short() -> None:
    found = problems_of(edited("conditions[1].engine", ["x" * 1000] * 1000))

    assert len(found) == 1 and len(found[0]) < MAX_LINE


def _alias_bomb(levels: int, where: str) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    lines.append(f"{where}: *a{levels - 1}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("where", ["name", "judges"], ids=["as-a-string", "in-extra-body"])
def test_an_alias_bomb_is_refused_before_it_expands(tmp_path: Path, where: str) -> None:
    found = file_problems(tmp_path, _alias_bomb(9, where))  # 9**9 values if it expanded

    assert len(found) == 1 and f"more than {MAX_YAML_NODES:,} values" in found[0], found


def test_an_alias_bomb_inside_extra_body_is_refused(tmp_path: Path) -> None:
    doc = yaml.safe_dump(make_spec(judges={"j": {"kind": "openai", "model": "m",
                                                 "base_url": "http://localhost:1/v1",
                                                 "extra_body": {"grammar": "PLACEHOLDER"}}}))
    bomb = _alias_bomb(7, "unused").splitlines()[:-1]
    text = "\n".join(bomb) + "\n" + doc.replace("PLACEHOLDER", "").replace("grammar: ''", "grammar: *a6")

    found = file_problems(tmp_path, text)

    assert "values" in found[0] and "anchors" in found[0], found


def test_a_self_referencing_anchor_is_refused(tmp_path: Path) -> None:
    found = file_problems(tmp_path, "name: &a [*a]\n")

    assert found == [f"{tmp_path / 'spec.yaml'} line 1: not valid YAML (an anchor refers to itself)"]


def test_anchors_and_merge_keys_within_budget_still_work(tmp_path: Path) -> None:
    doc = make_spec()
    doc.pop("engines")
    text = ("x-engine: &engine {kind: llm, model: org/translator}\n"
            "engines: {eng: {<<: *engine, max_new_tokens: 64}}\n" + yaml.safe_dump(doc))
    path = tmp_path / "spec.yaml"
    path.write_text(text.replace("x-engine:", "# x-engine:").replace(
        "engines: {eng: {<<: *engine,", "engines: {eng: {kind: llm, model: org/translator,"),
        encoding="utf-8")
    loaded = read_yaml(path, "the spec")
    path.write_text(text, encoding="utf-8")
    anchored = read_yaml(path, "the spec")
    anchored.pop("x-engine")

    assert anchored == loaded
    assert parse_spec(anchored).engines["eng"].max_new_tokens == 64


def test_a_merge_key_overriding_a_merged_value_is_not_a_duplicate(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("base: &b {x: 1, y: 2}\nthing: {<<: *b, x: 3}\n", encoding="utf-8")

    assert read_yaml(path, "the spec")["thing"] == {"x": 3, "y": 2}


def test_deep_nesting_is_one_line(tmp_path: Path) -> None:
    found = file_problems(tmp_path, "name: " + "[" * 5000 + "]" * 5000 + "\n")

    assert len(found) == 1 and ("nested" in found[0]), found


def test_a_file_too_large_is_refused(tmp_path: Path) -> None:
    found = file_problems(tmp_path, "# " + "x" * (3 * 2**20) + "\n")

    assert len(found) == 1 and "larger than 512 KiB" in found[0]


def test_dev_zero_is_refused_not_read_forever() -> None:
    with pytest.raises(SpecError) as info:
        load_spec(Path("/dev/zero"))
    assert "larger than" in str(info.value)


# -- encoding and duplicate keys -----------------------------------------------------------------
def test_a_non_utf8_spec_says_so_with_the_line(tmp_path: Path) -> None:
    found = file_problems(tmp_path, b"name: tiny\nlanguages: [es]\n# caf\xe9\n")

    assert found == [f"{tmp_path / 'spec.yaml'} line 3: the spec is not UTF-8 (byte 32: "
                     "b'\\xe9'); save it as UTF-8"]


def test_a_non_utf8_cluster_config_says_so(tmp_path: Path) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_bytes(b"namespace: \xff\n")
    with pytest.raises(SpecError, match="the cluster config is not UTF-8"):
        read_yaml(path, "the cluster config")


def test_a_duplicate_key_is_an_error_with_its_line(tmp_path: Path) -> None:
    found = file_problems(tmp_path, "name: a\nlanguages: [es]\nname: b\n")

    assert found == [f"{tmp_path / 'spec.yaml'} line 3: not valid YAML (duplicate key 'name'; give "
                     "each key once)"]


def test_a_nested_duplicate_key_is_an_error(tmp_path: Path) -> None:
    found = file_problems(tmp_path, "data:\n  size: 2\n  size: 3\n")

    assert "line 3" in found[0] and "duplicate key 'size'" in found[0]


# -- accepted but wrong: now refused -------------------------------------------------------------
@pytest.mark.parametrize(("path", "value", "starts"), [
    ("arms[0].lr", float("inf"), "arms[0].lr: got inf"),
    ("arms[0].lr", float("nan"), "arms[0].lr: got nan"),
    ("resources", {"train": {"gpu_hours_per_step": float("inf")}}, "resources.train.gpu_hours_per_step"),
    ("training.weight_decay", float("inf"), "training.weight_decay: got inf"),
    ("arms", [], "arms: got []"),
    ("training.lora", {"target_modules": []}, "training.lora.target_modules: got []"),
    ("training.lora", {"target_modules": [""]}, "training.lora.target_modules[0]: got ''"),
    ("benchmarks[0].languages", [], "benchmarks[0].languages: got []"),
    ("data.native.path", "", "data.native.path: got ''; must not be empty"),
    ("data.native.path", "   ", "data.native.path: got '   '; must not be empty"),
    ("data.seed", -1, "data.seed: got -1"),
    ("training", {"seed": -1}, "training.seed: got -1"),
    ("languages", ["es", "es"], "languages: got ['es', 'es']; must be distinct"),
    ("benchmarks[0].languages", ["es", "es"], "benchmarks[0].languages: got ['es', 'es']"),
    ("data.native.path", "gs://bucket/x.jsonl", "data.native.path: got 'gs://bucket/x.jsonl'; scheme gs://"),
    ("data.english.path", "http://host/x.jsonl", "data.english.path: got 'http://host/x.jsonl'; scheme http://"),
    ("benchmarks[0].path", "https://x/y.json", "benchmarks[0].path: got 'https://x/y.json'; scheme https://"),
    ("benchmarks[0].path", "s3://[bad/x.json", "benchmarks[0].path: got 's3://[bad/x.json'; bucket '[bad'"),
    ("data.native.path", "s3://bucket name/x",
     "data.native.path: got 's3://bucket name/x'; bucket 'bucket name'"),
    ("data.native.path", "/tmp/" + "x" * 300 + "/a.jsonl", "data.native.path: got '/tmp/xxx"),
    ("data.native.path", "a\x00b", "data.native.path: got 'a\\x00b'; contains a control character"),
    ("engines", {"eng": {"kind": "openai", "model": "m", "endpoint": "localhost:8000"}},
     "engines.eng.endpoint: got 'localhost:8000'; must be an http:// or https:// URL"),
], ids=["lr-inf", "lr-nan", "gpu-hours-inf", "weight-decay-inf", "no-arms", "no-target-modules",
        "blank-target-module", "no-benchmark-languages", "empty-path", "blank-path", "data-seed-negative",
        "training-seed-negative", "repeated-language", "repeated-benchmark-language", "gs-path",
        "http-path", "https-bench-path", "s3-ipv6-bracket", "s3-bucket-space", "long-component",
        "nul-in-path", "endpoint-without-scheme"])
def test_what_makes_no_study_is_refused(path: str, value: Any, starts: str) -> None:
    found = problems_of(edited(path, value))

    assert any(line.startswith(starts) for line in found), found


@pytest.mark.parametrize(("store", "expected"), [
    ("gs://bucket/x", "scheme gs:// is not supported here"),
    ("s3://[bad", "bucket '[bad' is not an S3 bucket name"),
    ("s3://bucket name/x", "bucket 'bucket name' is not an S3 bucket name"),
    ("s3://", "bucket '' is not an S3 bucket name"),
    ("", "must not be empty"),
    ("/tmp/" + "y" * 300, "longer than 255 bytes"),
], ids=["gs", "ipv6-bracket", "space", "no-bucket", "empty", "long-component"])
def test_a_malformed_store_is_a_validate_error(store: str, expected: str) -> None:
    found = problems_of(make_spec(store=store))

    assert len(found) == 1 and found[0].startswith("store: got ") and expected in found[0], found
    with pytest.raises(SpecError, match="store: got"):
        check_store_uri(store)


@pytest.mark.parametrize("store", ["/tmp/x", "file:///tmp/x", "s3://my-bucket/studies/a", "rel/dir"])
def test_good_stores_pass(store: str) -> None:
    assert check_store_uri(store) == store
    assert parse_spec(make_spec(store=store)).store


def test_many_problems_are_capped() -> None:
    doc = make_spec(languages=[f"x{i}" for i in range(100)])

    found = problems_of(doc)

    assert len(found) <= 31 and found[-1].startswith("... and ")


def test_short_repr_keeps_small_values_exact_and_cuts_big_ones() -> None:
    assert short_repr({"b": 1, "a": [1, 2]}) == "{'b': 1, 'a': [1, 2]}"
    assert len(short_repr(["x" * 10_000] * 10_000)) < 260
    assert short_repr("y" * 1000).endswith("characters)")
