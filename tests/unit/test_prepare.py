"""The prepare step: sources, seeded sampling, and the paper's exact sets from the authors' files.

The released-set tests read the real files in ``../shared/data/aya`` (MANIFEST.md) and check the
paper's counts: es 3,854, ru 423, zh 3,944 for the native, translated and round-trip sets, and
the multilingual mixture's N languages × 241 (the paper's 8 × 241 = 1,928; the shared folder
lacks ``ar``, so the mixture built here names the seven languages it has, and naming ``ar``
fails with the missing file's name).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nativejobs.errors import StepInputError
from nativejobs.languages import LANGUAGES
from nativejobs.plan import Plan, build_plan
from nativejobs.spec import PAPER_MIXTURE, parse_spec
from nativejobs.steps.__main__ import main as step_main
from nativejobs.steps.__main__ import run_step
from nativejobs.steps.prepare import Source, load_source, read_rows, sample
from nativejobs.store import FileStore, Store
from tests.unit.builders import arm, make_spec, steps_where

PAPER_SIZES = {"es": 3854, "ru": 423, "zh": 3944}
SMALLEST = 241  # de, the smallest native set among the paper's mixture languages
HERE = ("es", "ru", "zh", "de", "fi", "ga", "hi")  # the mixture languages shared/data has


@pytest.fixture(scope="module")
def aya(shared_data: Path) -> str:
    folder = shared_data / "aya"
    assert (folder / "aya_native_data_processed.es.json").is_file(), f"{folder} is missing"
    return str(folder)


def released(aya: str, system: str | None = None) -> dict[str, Any]:
    return {"kind": "released", "path": aya} | ({"system": system} if system else {})


def paper_spec(aya: str, **overrides: Any) -> dict[str, Any]:
    cond = [{"name": "native", "kind": "native"}]
    for system in ("google", "cohere"):
        cond += [{"name": system, "kind": "translated", "source": released(aya, system)},
                 {"name": f"{system}-rtt", "kind": "round_trip", "source": released(aya, system)}]
    doc = make_spec(languages=["es", "ru", "zh"], conditions=cond)
    doc["data"] = {"native": released(aya), "english": released(aya), "size": None, "seed": 0,
                   "mixture": {"languages": list(HERE)}}
    doc.update(overrides)
    return doc


def run_prepares(plan: Plan, store: Store) -> None:
    for step in plan.steps:
        if step.kind == "prepare":
            store.put_json(f"steps/prepare/{step.key}/_step.json", step.definition())
            assert run_step(store.uri, step.ref) == 0


def rows_of(store: Store, step_ref: str, artifact: str = "data.jsonl") -> list[dict[str, str]]:
    return store.get_jsonl(f"steps/{step_ref}/{artifact}")


# -- the paper's exact inputs ------------------------------------------------------------------
@pytest.fixture(scope="module")
def paper_run(aya: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Plan, Store]:
    plan = build_plan(parse_spec(paper_spec(aya, arms=[
        arm("a1", 1e-4), {"name": "multi", "lr": 1e-4, "mode": "multi",
                          "conditions": ["native", "google"]}])))
    store = FileStore(tmp_path_factory.mktemp("paper") / "store")
    run_prepares(plan, store)
    return plan, store


@pytest.mark.parametrize("lang", list(PAPER_SIZES))
def test_released_native_translated_and_round_trip_sets_have_the_papers_counts(
        paper_run: tuple[Plan, Store], lang: str) -> None:
    plan, store = paper_run
    (native,) = steps_where(plan, "prepare", language=lang, what="native sample")
    sets = [s for s in plan.steps if s.kind == "prepare" and s.labels.get("language") == lang
            and "scope" not in s.labels]
    assert len(sets) == 5  # native, google, cohere, google-rtt, cohere-rtt: no translate step
    assert not [s for s in plan.steps if s.kind == "translate"]
    for step in sets:
        assert len(rows_of(store, step.ref)) == PAPER_SIZES[lang], step.title
    native_ids = [r["id"] for r in rows_of(store, native.ref)]
    for system in ("google", "cohere"):
        (rtt,) = steps_where(plan, "prepare", language=lang, condition=f"{system}-rtt")
        back, pivot = rows_of(store, rtt.ref), rows_of(store, rtt.ref, "pivot.jsonl")
        # The round trip and its English pivot are the native items, one for one.
        iso3 = LANGUAGES[lang].iso3
        index = [i.rsplit("_", 1)[1] for i in native_ids]
        assert [r["id"] for r in back] == [
            f"aya_{iso3}_{system}_translated_to_eng_{system}_translated_to_{iso3}_{i}" for i in index]
        assert [r["id"] for r in pivot] == [f"aya_{iso3}_{system}_translated_to_eng_{i}" for i in index]
        assert rtt.params["source"] == {"kind": "released", "path": native.params["source"]["path"],
                                        "system": system}


def test_the_multilingual_mixture_is_n_languages_times_the_smallest_size(
        paper_run: tuple[Plan, Store]) -> None:
    plan, store = paper_run
    (native_mix,) = steps_where(plan, "prepare", what="native mixture")
    (google_mix,) = steps_where(plan, "prepare", condition="google", what="mixture")
    langs = native_mix.params["languages"]

    for step in (native_mix, google_mix):
        rows = rows_of(store, step.ref)
        assert len(rows) == len(langs) * SMALLEST == 7 * 241 == 1687
        assert {lang: sum(r["language"] == lang for r in rows) for lang in langs} == dict.fromkeys(
            langs, SMALLEST)
    # The paper's 8 languages make 8 × 241 = 1,928: the same rule with ar added.
    assert len(PAPER_MIXTURE) * SMALLEST == 1928
    # The translated mixture draws each language's own items from that language's set.
    google_rows = rows_of(store, google_mix.ref)
    assert all(r["id"].startswith(f"aya_eng_google_translated_to_{LANGUAGES[r['language']].iso3}_")
               for r in google_rows)
    (train,) = [s for s in plan.steps if s.kind == "train" and s.labels["arm"] == "multi"
                and s.labels["condition"] == "google"]
    assert train.inputs[0].key == google_mix.key


def test_a_mixture_language_without_files_fails_naming_the_file(aya: str, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    doc = paper_spec(aya, arms=[{"name": "multi", "lr": 1e-4, "mode": "multi"}])
    doc["data"]["mixture"]["languages"] = list(PAPER_MIXTURE)  # ar is not in shared/data
    plan = build_plan(parse_spec(doc))
    (mix,) = steps_where(plan, "prepare", what="native mixture")
    store = FileStore(tmp_path / "store")
    store.put_json(f"steps/prepare/{mix.key}/_step.json", mix.definition())

    code = step_main(["run", "--store", store.uri, "--step", mix.ref])

    assert code == 3  # bad input: never retried
    assert "aya_native_data_processed.ar.json does not exist" in capsys.readouterr().out


def test_the_largest_released_file_reads_whole(aya: str) -> None:
    rows = load_source(Source(kind="released", path=aya), "zh")
    assert len(rows) == 3944


# -- sampling ------------------------------------------------------------------------------------
POOL = [{"id": str(i), "instruction": f"q{i}", "input": "", "output": f"a{i}"} for i in range(50)]


def test_sampling_is_reproducible_and_seeded() -> None:
    first, again = sample(POOL, 10, seed="0:english:es"), sample(POOL, 10, seed="0:english:es")

    assert first == again
    assert sample(POOL, 10, seed="1:english:es") != first
    assert sample(POOL, 10, seed="0:english:ru") != first  # each language its own English items
    assert sample(POOL, None, seed="x") == POOL and sample(POOL, 99, seed="x") == POOL


def test_english_sample_matches_native_size_and_is_stable(aya: str, tmp_path: Path) -> None:
    doc = make_spec(languages=["es", "ru"], conditions=[
        {"name": "native"}, {"name": "google", "kind": "translated", "engine": "eng"}])
    doc["data"] = {"native": released(aya), "english": released(aya), "size": 20, "seed": 3}
    plan = build_plan(parse_spec(doc))
    stores = [FileStore(tmp_path / f"s{i}") for i in range(2)]
    for store in stores:
        run_prepares(plan, store)

    english = {lang: steps_where(plan, "prepare", language=lang, what="English sample")[0]
               for lang in ("es", "ru")}
    ids = {lang: [r["id"] for r in rows_of(stores[0], s.ref)] for lang, s in english.items()}
    assert all(len(v) == 20 for v in ids.values())
    assert ids["es"] != ids["ru"]
    assert all(rows_of(stores[0], s.ref) == rows_of(stores[1], s.ref) for s in plan.steps
               if s.kind == "prepare")


def test_mixture_size_is_capped_by_data_size(aya: str, tmp_path: Path) -> None:
    doc = paper_spec(aya, arms=[{"name": "multi", "lr": 1e-4, "mode": "multi",
                                 "conditions": ["native"]}])
    doc["data"].update(size=5, mixture={"languages": ["es", "de"]})
    plan = build_plan(parse_spec(doc))
    store = FileStore(tmp_path / "store")
    run_prepares(plan, store)

    (mix,) = steps_where(plan, "prepare", what="native mixture")
    assert len(rows_of(store, mix.ref)) == 2 * 5


# -- file formats --------------------------------------------------------------------------------
def test_files_in_alpaca_and_aya_format_json_jsonl_and_parquet(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    alpaca = [{"id": "x1", "instruction": "Hi", "input": "", "output": "Hello"}]
    aya_rows = [{"inputs": "Hola", "targets": "Qué tal", "language_code": "spa"}]
    (tmp_path / "a.json").write_text(json.dumps(alpaca))
    (tmp_path / "b.jsonl").write_text("".join(json.dumps(r) + "\n" for r in aya_rows))
    pq.write_table(pa.Table.from_pylist(aya_rows), tmp_path / "c.parquet")

    assert read_rows(str(tmp_path / "a.json")) == alpaca
    expected = [{"instruction": "Hola", "input": "", "output": "Qué tal", "id": "0"}]
    assert read_rows(str(tmp_path / "b.jsonl")) == expected
    assert read_rows(str(tmp_path / "c.parquet")) == expected


def test_files_source_replaces_lang_and_names_a_missing_file(tmp_path: Path) -> None:
    (tmp_path / "es.jsonl").write_text(json.dumps({"instruction": "a", "output": "b"}) + "\n")
    src = Source(kind="files", path=str(tmp_path / "{lang}.jsonl"))

    assert len(load_source(src, "es")) == 1
    with pytest.raises(StepInputError, match=r"ru\.jsonl does not exist"):
        load_source(src, "ru")


def test_aya_source_filters_by_iso3_code_and_names_rows_like_the_authors(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hub path's code on a local copy in the hub's layout (no network here): the same
    ``datasets.load_dataset`` call, a folder instead of ``CohereForAI/aya_dataset``."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "aya_dataset"
    folder.mkdir()
    rows = [{"inputs": f"q{i}", "targets": f"a{i}", "language": name, "language_code": code}
            for i, (name, code) in enumerate([("Spanish", "spa"), ("Russian", "rus"),
                                              ("Spanish", "spa"), ("English", "eng")])]
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    got = load_source(Source(kind="aya", dataset=str(folder), split="train"), "es")

    assert got == [{"instruction": "q0", "input": "", "output": "a0", "id": "aya_spa_0"},
                   {"instruction": "q2", "input": "", "output": "a2", "id": "aya_spa_1"}]
