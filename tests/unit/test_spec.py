"""The spec: the quickstart validates, and every bad spec gets one readable line per problem.

The error contract (STYLE.md item 3, spec.py docstring): ``SpecError.problems`` holds one line
per problem, each starting with the field path (``arms[0].lr: got -0.0003; ...``), and every
problem in a document is reported at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from nativejobs.errors import NativeJobsError, SpecError
from nativejobs.languages import LANGUAGES
from nativejobs.spec import ExperimentSpec, load_spec, parse_spec
from tests.unit.builders import arm, bench, condition, make_spec, set_path, spec_file


def problems_of(doc: Any, **kwargs: Any) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_spec(doc, **kwargs)
    return info.value.problems


# -- valid specs ---------------------------------------------------------------------------------
def test_quickstart_validates(repo_root: Path) -> None:
    spec = load_spec(repo_root / "examples" / "quickstart.yaml")

    assert spec.name == "quickstart"
    assert spec.languages == ("es", "ru", "zh")
    assert [c.kind for c in spec.conditions] == ["native", "translated", "round_trip"]
    assert [b.name for b in spec.benchmarks] == ["xquad", "mgsm", "mc"]
    assert spec.arms[0].lr == pytest.approx(3e-3)
    assert (spec.execution.max_parallel, spec.execution.retries) == (2, 1)


def test_quickstart_paths_resolve_to_its_data(repo_root: Path) -> None:
    spec = load_spec(repo_root / "examples" / "quickstart.yaml")
    examples = repo_root / "examples"

    paths = [spec.data.native.path, spec.data.english.path, *(b.path for b in spec.benchmarks),
             *(b.dev_path for b in spec.benchmarks if b.dev_path)]
    for p in paths:
        assert p is not None and Path(p).is_absolute(), p
        assert Path(p).is_relative_to(examples.resolve()), p
        for lang in spec.languages:
            assert Path(p.format(lang=lang)).is_file(), p.format(lang=lang)


def test_builder_spec_validates() -> None:
    spec = parse_spec(make_spec())

    assert spec.languages == ("es",)
    assert [c.name for c in spec.conditions] == ["native", "translated"]


def test_omitted_training_gets_the_papers_recipe() -> None:
    doc = make_spec()
    del doc["training"]

    t = parse_spec(doc).training

    assert (t.epochs, t.effective_batch_size) == (10, 64)
    assert (t.lora.r, t.lora.alpha, t.lora.dropout) == (8, 16, 0.05)
    assert t.lora.target_modules == ("q_proj", "k_proj", "v_proj")


def test_spec_is_frozen() -> None:
    spec = parse_spec(make_spec())

    with pytest.raises(ValidationError):
        spec.name = "other"  # type: ignore[misc]


def test_yaml_exponent_without_dot_is_a_float(tmp_path: Path) -> None:
    # PyYAML (YAML 1.1) reads `1e-4` as a string; the spec must still take it as the number.
    text = "\n".join([
        "name: tiny", "languages: [es]",
        "data: {native: {path: n.jsonl}, english: {path: en.jsonl}}",
        "conditions: [{name: native}]", "models: [{name: m1, id: org/m}]",
        "arms: [{name: a1, lr: 1e-4}]",
        "benchmarks: [{name: qa, kind: xquad, path: q.json}]", "",
    ])

    spec = load_spec(spec_file(tmp_path, text))

    assert spec.arms[0].lr == pytest.approx(1e-4)
    assert isinstance(spec.arms[0].lr, float)


# -- one problem, one line -----------------------------------------------------------------------
def _two_benchmarks(doc: dict[str, Any]) -> None:
    doc["benchmarks"] = [bench("qa"), bench("mgsm", "mgsm", shots=2)]


SINGLE_PROBLEMS = [
    pytest.param(lambda d: set_path(d, "training.epochz", 3),
                 "training.epochz: unknown key", (), id="unknown-nested-key"),
    pytest.param(lambda d: set_path(d, "langauges", ["es"]),
                 "langauges: unknown key", ("spelling",), id="unknown-top-key"),
    pytest.param(lambda d: set_path(d, "data.native.pth", "x.jsonl"),
                 "data.native.pth: unknown key", (), id="unknown-deep-key"),
    pytest.param(lambda d: set_path(set_path(d, "training.patience", 2), "training.heldout_fraction", 0),
                 "training: got", ("patience 2 needs held-out data",), id="patience-without-heldout"),
    pytest.param(lambda d: set_path(d, "training.epochs", "ten"),
                 "training.epochs: got 'ten'", ("integer",), id="wrong-type"),
    pytest.param(lambda d: set_path(d, "arms[0].lr", -3e-4),
                 "arms[0].lr: got -0.0003", ("greater than 0",), id="negative-lr"),
    pytest.param(lambda d: set_path(d, "engines.eng.max_new_tokens", 0),
                 "engines.eng.max_new_tokens: got 0", ("greater than 0",), id="engine-field"),
    pytest.param(lambda d: set_path(d, "arms[0].name", "Bad_Name"),
                 "arms[0].name: got 'Bad_Name'", ("pattern",), id="bad-name"),
    # A valid code stays in the list so that only the language check speaks (see SOLE_ITEM).
    pytest.param(lambda d: set_path(d, "languages", ["es", "xx"]),
                 "languages", ("'xx'", "unknown language", "one of: ar,", "zh"),
                 id="unknown-language"),
    pytest.param(lambda d: set_path(d, "languages", ["es", "en"]),
                 "languages: got ['es', 'en']", ("'en' is the pivot language",), id="en-target"),
    pytest.param(lambda d: set_path(d, "conditions[1].engine", "nope"),
                 "conditions[1].engine: got 'nope'", ("must be one of the engines: eng",),
                 id="undefined-engine"),
    pytest.param(lambda d: d["conditions"][1].pop("engine"),
                 "conditions[1]", ("'translated'", "needs an engine"), id="translated-no-engine"),
    pytest.param(lambda d: set_path(d, "conditions[0].engine", "eng"),
                 "conditions[0]", ("'native'", "takes no engine"), id="native-with-engine"),
    pytest.param(_two_benchmarks, "benchmarks[1]", ("shots 2", "no dev_path"),
                 id="shots-without-dev-path"),
    pytest.param(lambda d: set_path(d, "data.native", {"kind": "files"}),
                 "data.native", ("needs a path",), id="files-source-without-path"),
    pytest.param(lambda d: d.pop("models"), "models: required key is missing", (),
                 id="missing-key"),
]


@pytest.mark.parametrize(("mutate", "starts", "mentions"), SINGLE_PROBLEMS)
def test_one_problem_gives_one_line_naming_the_field(mutate: Any, starts: str,
                                                    mentions: tuple[str, ...]) -> None:
    doc = make_spec()
    mutate(doc)

    problems = problems_of(doc)

    assert len(problems) == 1, problems
    assert problems[0].startswith(starts), problems[0]
    for text in mentions:
        assert text in problems[0], (text, problems[0])


def test_unknown_language_lists_the_codes_a_target_may_use() -> None:
    (line,) = problems_of(make_spec(languages=["es", "xx"]))

    listed = {c.strip() for c in line.rsplit("one of:", 1)[1].split(",")}
    # Every listed code must be usable as a target language; 'en' is the pivot and is rejected.
    assert listed == set(LANGUAGES) - {"en"}, line


def test_misspelt_required_key_names_both_the_typo_and_the_missing_key() -> None:
    doc = make_spec()
    doc["langauges"] = doc.pop("languages")

    problems = problems_of(doc)

    assert sorted(problems) == ["langauges: unknown key; remove it or fix its spelling",
                                "languages: required key is missing"]


@pytest.mark.parametrize("field", ["conditions", "models", "arms", "benchmarks"])
def test_duplicate_names_are_one_line_per_list(field: str) -> None:
    doc = make_spec()
    first = doc[field][0]
    doc[field] = [first, dict(first)]

    problems = problems_of(doc)

    assert problems == [f"{field}: names must be unique; repeated: {first['name']}"]


SOLE_ITEM_PROBLEMS = [
    pytest.param("languages", ["xx"], id="unknown-language"),
    pytest.param("benchmarks", [bench("qa", "mgsm", shots=1)], id="benchmark-shots-without-dev"),
    pytest.param("models", [{"name": "m1", "id": ""}], id="model-empty-id"),
    pytest.param("conditions", [{"name": "translated", "kind": "translated"}],
                 id="condition-without-engine"),
]


@pytest.mark.parametrize(("field", "items"), SOLE_ITEM_PROBLEMS)
def test_a_bad_sole_item_is_reported_once(field: str, items: list[dict[str, Any]]) -> None:
    """One bad item in a one-item list is one problem, not also 'needs at least 1 item'."""
    problems = problems_of(make_spec(**{field: items}))

    assert len(problems) == 1, problems
    assert problems[0].startswith(field), problems[0]
    assert "at least 1 item" not in problems[0], problems[0]


# -- many problems, all reported -----------------------------------------------------------------
def test_field_problems_in_different_sections_are_all_reported() -> None:
    doc = make_spec(languages=["es", "xx"])
    set_path(doc, "training.epochz", 3)
    set_path(doc, "training.epochs", "ten")
    set_path(doc, "arms[0].lr", -1)
    set_path(doc, "engines.eng.batch_size", 0)
    paths = ["arms[0].lr", "engines.eng.batch_size", "languages", "training.epochs",
             "training.epochz"]

    problems = problems_of(doc)

    assert len(problems) == len(paths), problems
    for path in paths:  # each problem is exactly one line, led by its field path
        assert sum(p.startswith(path) for p in problems) == 1, (path, problems)
    assert all("\n" not in p for p in problems)


def test_cross_reference_problems_are_all_reported() -> None:
    doc = make_spec(arms=[arm("a1", 1e-4), arm("a1", 1e-5)])
    set_path(doc, "conditions[1].engine", "nope")

    problems = problems_of(doc)

    assert sorted(problems) == [
        "arms: names must be unique; repeated: a1",
        "conditions[1].engine: got 'nope'; must be one of the engines: eng",
    ]


def test_cross_reference_and_field_problems_are_reported_together() -> None:
    """STYLE.md 3: every problem at once, so an undefined engine is not hidden by a bad lr."""
    doc = make_spec()
    set_path(doc, "conditions[1].engine", "nope")
    set_path(doc, "arms[0].lr", -1)

    problems = problems_of(doc)

    assert sorted(p.split(":")[0] for p in problems) == ["arms[0].lr", "conditions[1].engine"]


def test_message_is_the_problems_one_per_line() -> None:
    doc = make_spec(languages=["es", "xx"])
    set_path(doc, "arms[0].lr", -1)

    with pytest.raises(SpecError) as info:
        parse_spec(doc)

    assert str(info.value) == "\n".join(info.value.problems)
    assert len(str(info.value).splitlines()) == 2
    assert isinstance(info.value, NativeJobsError)


# -- documents that are not specs ----------------------------------------------------------------
@pytest.mark.parametrize(("doc", "type_name"), [
    pytest.param(["name", "tiny"], "list", id="list"),
    pytest.param("name: tiny", "str", id="string"),
    pytest.param(42, "int", id="number"),
    pytest.param(None, "NoneType", id="empty"),
])
def test_non_mapping_document_is_one_line(doc: Any, type_name: str) -> None:
    assert problems_of(doc) == [f"(top level): got {type_name}; the spec must be a YAML mapping"]


def test_invalid_yaml_reports_the_line(tmp_path: Path) -> None:
    path = spec_file(tmp_path, "name: tiny\nlanguages: [es]\ndata: native: x\n")

    with pytest.raises(SpecError) as info:
        load_spec(path)

    (line,) = info.value.problems
    assert line.startswith(f"{path} line 3: not valid YAML"), line


def test_empty_file_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(spec_file(tmp_path, ""))

    assert info.value.problems == ["(top level): got NoneType; the spec must be a YAML mapping"]


@pytest.mark.parametrize("make_path", [
    pytest.param(lambda tmp: tmp / "missing.yaml", id="missing"),
    pytest.param(lambda tmp: tmp, id="directory"),
])
def test_unreadable_file_names_the_path(tmp_path: Path, make_path: Any) -> None:
    path = make_path(tmp_path)

    with pytest.raises(SpecError) as info:
        load_spec(path)

    (line,) = info.value.problems
    assert line.startswith(f"{path}: cannot read the spec"), line


# -- paths ---------------------------------------------------------------------------------------
PATHS = [
    pytest.param("data.native.path", "data/{lang}.jsonl", "BASE/data/{lang}.jsonl",
                 lambda s: s.data.native.path, id="native-relative"),
    pytest.param("data.english.path", "../pool/en.jsonl", "PARENT/pool/en.jsonl",
                 lambda s: s.data.english.path, id="english-dotdot"),
    pytest.param("benchmarks[0].path", "bench/q.{lang}.json", "BASE/bench/q.{lang}.json",
                 lambda s: s.benchmarks[0].path, id="benchmark-relative"),
    pytest.param("benchmarks[0].dev_path", "dev/{lang}.json", "BASE/dev/{lang}.json",
                 lambda s: s.benchmarks[0].dev_path, id="dev-path-relative"),
    pytest.param("data.native.path", "s3://bucket/native/{lang}.jsonl",
                 "s3://bucket/native/{lang}.jsonl", lambda s: s.data.native.path, id="s3-passes"),
    pytest.param("benchmarks[0].path", "/abs/bench/q.json", "/abs/bench/q.json",
                 lambda s: s.benchmarks[0].path, id="absolute-passes"),
    pytest.param("store", "out/store", "BASE/out/store", lambda s: s.store, id="store-relative"),
    pytest.param("store", "file://rel/store", "BASE/rel/store", lambda s: s.store,
                 id="store-file-relative"),
    pytest.param("store", "file:///abs/store", "/abs/store", lambda s: s.store,
                 id="store-file-absolute"),
    pytest.param("store", "s3://bucket/prefix", "s3://bucket/prefix", lambda s: s.store,
                 id="store-s3-passes"),
]


def _expand(expected: str, base: Path) -> str:
    return expected.replace("PARENT", str(base.parent)).replace("BASE", str(base))


@pytest.mark.parametrize(("field", "written", "expected", "read"), PATHS)
def test_paths_resolve_against_the_spec_folder(tmp_path: Path, field: str, written: str,
                                               expected: str, read: Any) -> None:
    base = (tmp_path / "study").resolve()
    doc = make_spec(benchmarks=[bench("qa", "mgsm", shots=0)])  # a kind that takes a dev_path
    set_path(doc, field, written)

    spec = parse_spec(doc, base_dir=base)

    assert read(spec) == _expand(expected, base)


def test_load_spec_resolves_against_the_files_folder(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    text = "\n".join([
        "name: tiny", "languages: [es]",
        "data: {native: {path: 'n/{lang}.jsonl'}, english: {path: ../en.jsonl}}",
        "conditions: [{name: native}]", "models: [{name: m1, id: org/m}]",
        "benchmarks: [{name: qa, kind: xquad, path: 's3://b/q.json'}]", "",
    ])

    spec = load_spec(spec_file(folder, text))

    assert spec.data.native.path == str(folder.resolve() / "n" / "{lang}.jsonl")
    assert spec.data.english.path == str(tmp_path.resolve() / "en.jsonl")
    assert spec.benchmarks[0].path == "s3://b/q.json"


def test_without_base_dir_relative_paths_stay_as_written() -> None:
    spec = parse_spec(make_spec(conditions=[condition("native")]))

    assert spec.data.native.path == "data/{lang}.jsonl"
    assert isinstance(spec, ExperimentSpec)
