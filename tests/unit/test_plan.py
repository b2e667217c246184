"""The plan: counts, deterministic keys, shared work, dependency order, and the key contract.

The key contract (STYLE.md item 4): changing one axis of the spec moves the keys of the steps
that axis feeds and of everything downstream of them, and no other key. Each row of AXES says
which steps it moves with an explicit predicate over step kind and labels; the test also checks
that set against ``Plan.downstream`` of the directly affected steps.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nativejobs.plan import Plan, Step, build_plan, step_key
from nativejobs.spec import load_spec, parse_spec
from tests.unit.builders import arm, bench, condition, make_plan, make_spec, set_path, steps_where

Identity = tuple[str, tuple[tuple[str, str], ...]]


@pytest.fixture(scope="module")
def quickstart(repo_root: Path) -> Plan:
    return build_plan(load_spec(repo_root / "examples" / "quickstart.yaml"))


def grid_doc() -> dict[str, Any]:
    """Two languages × native/translated/round-trip × two models × two arms, two benchmarks."""
    return make_spec(
        languages=["es", "ru"],
        conditions=[condition("native"), condition("translated", "translated"),
                    condition("rtt", "round_trip")],
        models=[{"name": "m1", "id": "org/model-1"}, {"name": "m2", "id": "org/model-2"}],
        arms=[arm("a1", 1e-4), arm("a2", 1e-6)],
        benchmarks=[bench("qa", limit=5), bench("mgsm", "mgsm", limit=3, shots=0)],
    )


def identity(step: Step) -> Identity:
    """What a step *is* in the grid, independent of its key."""
    return step.kind, tuple(sorted(step.labels.items()))


def by_identity(plan: Plan) -> dict[Identity, Step]:
    out = {identity(s): s for s in plan.steps}
    assert len(out) == len(plan.steps), "grid_doc must give every step a distinct identity"
    return out


# -- shape ---------------------------------------------------------------------------------------
def test_quickstart_counts(quickstart: Plan) -> None:
    assert dict(quickstart.counts()) == {"prepare": 6, "translate": 9, "train": 9, "evaluate": 9,
                                         "summarize": 1}


def test_quickstart_round_trip_goes_through_english(quickstart: Plan) -> None:
    rtt = steps_where(quickstart, "translate", language="ru", condition="rtt")

    assert [s.labels["what"] for s in rtt] == ["translate ru→en", "translate en→ru"]
    pivot, back = rtt
    assert back.inputs[0].key == pivot.key
    assert back.inputs[0].path == f"steps/translate/{pivot.key}/translated.jsonl"
    (prepare,) = steps_where(quickstart, "prepare", language="ru", what="native sample")
    assert pivot.inputs[0].path == f"steps/prepare/{prepare.key}/data.jsonl"


def test_native_condition_trains_on_prepared_native_data(quickstart: Plan) -> None:
    (train,) = steps_where(quickstart, "train", language="zh", condition="native")
    (prepare,) = steps_where(quickstart, "prepare", language="zh", what="native sample")

    assert [(i.name, i.path) for i in train.inputs] == [
        ("data", f"steps/prepare/{prepare.key}/data.jsonl")]


def test_english_sample_is_matched_to_the_native_sample(quickstart: Plan) -> None:
    (native,) = steps_where(quickstart, "prepare", language="es", what="native sample")
    (english,) = steps_where(quickstart, "prepare", language="es", what="English sample")
    (translated,) = steps_where(quickstart, "translate", language="es", condition="translated")

    assert [i.key for i in english.inputs] == [native.key]
    assert [i.key for i in translated.inputs] == [english.key]


def test_summary_is_last_and_reads_every_evaluation(quickstart: Plan) -> None:
    evaluations = {s.key for s in quickstart.steps if s.kind == "evaluate"}

    assert quickstart.summary.kind == "summarize"
    assert {i.key for i in quickstart.summary.inputs} == evaluations
    assert {i.artifact for i in quickstart.summary.inputs} == {"records.json"}


def test_keys_are_deterministic(repo_root: Path) -> None:
    path = repo_root / "examples" / "quickstart.yaml"

    first, second = build_plan(load_spec(path)), build_plan(load_spec(path))

    assert [s.key for s in first.steps] == [s.key for s in second.steps]
    assert len({s.key for s in first.steps}) == len(first.steps)
    assert all(len(s.key) == 24 and int(s.key, 16) >= 0 for s in first.steps)


def test_key_does_not_depend_on_dict_order() -> None:
    doc = make_spec()
    reordered = dict(reversed(list(doc.items())))
    reordered["data"] = dict(reversed(list(doc["data"].items())))

    again = build_plan(parse_spec(reordered))

    assert [s.key for s in make_plan().steps] == [s.key for s in again.steps]


def test_step_key_depends_on_inputs_but_not_their_order() -> None:
    plan = make_plan(conditions=[condition("native"), condition("rtt", "round_trip")])
    inputs = plan.summary.inputs
    assert len(inputs) == 2

    assert step_key("summarize", {}, inputs) == step_key("summarize", {}, inputs[::-1])
    assert step_key("summarize", {}, inputs) != step_key("summarize", {}, inputs[:1])


@pytest.mark.parametrize("plan_of", [
    pytest.param(lambda qs: qs, id="quickstart"),
    pytest.param(lambda qs: build_plan(parse_spec(grid_doc())), id="grid"),
])
def test_steps_are_in_dependency_order(quickstart: Plan, plan_of: Callable[[Plan], Plan]) -> None:
    plan = plan_of(quickstart)
    seen: set[str] = set()

    for step in plan.steps:
        for i in step.inputs:
            assert i.key in seen, f"{step.ref} reads {i.kind}/{i.key} before it is planned"
            assert i.path.startswith(f"steps/{i.kind}/{i.key}/")
        seen.add(step.key)


# -- shared work ---------------------------------------------------------------------------------
def test_arms_share_prepare_and_translate() -> None:
    one = make_plan(conditions=[condition("native"), condition("rtt", "round_trip")])
    two = make_plan(conditions=[condition("native"), condition("rtt", "round_trip")],
                    arms=[arm("a1", 1e-4), arm("a2", 1e-6)])

    def shared(p: Plan) -> list[str]:
        return [s.key for s in p.steps if s.kind in ("prepare", "translate")]

    assert shared(two) == shared(one)
    assert two.counts()["translate"] == 2
    assert (two.counts()["train"], two.counts()["evaluate"]) == (4, 4)


def test_models_share_translations() -> None:
    plan = build_plan(parse_spec(grid_doc()))
    cell = {"language": "es", "condition": "translated", "arm": "a1"}
    (tr_m1,) = steps_where(plan, "train", model="m1", **cell)
    (tr_m2,) = steps_where(plan, "train", model="m2", **cell)

    assert tr_m1.key != tr_m2.key
    assert tr_m1.inputs == tr_m2.inputs
    # 2 languages × (1 translated + 2 round trip) translations, whatever the models and arms.
    assert plan.counts()["translate"] == 6
    assert (plan.counts()["train"], plan.counts()["evaluate"]) == (24, 24)


def test_identical_work_under_two_names_is_planned_once() -> None:
    """Two engines with the same settings make the same translations: one key, one step."""
    plan = make_plan(engines={"a": {"model": "org/t"}, "b": {"model": "org/t"}},
                     conditions=[condition("native"), condition("tr-a", "translated", "a"),
                                 condition("tr-b", "translated", "b")])

    assert len({s.key for s in plan.steps}) == len(plan.steps)
    assert dict(plan.counts()) == {"prepare": 2, "translate": 1, "train": 2, "evaluate": 2,
                                   "summarize": 1}
    # The summary still reports both conditions, read from the one shared evaluation.
    cells = plan.summary.params["cells"]
    assert [c["condition"] for c in cells] == ["native", "tr-a", "tr-b"]
    assert cells[1]["evaluate"] == cells[2]["evaluate"]


def test_benchmarks_limited_to_some_languages_are_left_out_elsewhere() -> None:
    plan = make_plan(languages=["es", "ru"],
                     benchmarks=[bench("qa"), bench("mgsm", "mgsm", languages=["ru"], shots=0)])

    def names(lang: str) -> list[str]:
        (ev,) = steps_where(plan, "evaluate", language=lang, condition="native")
        return [b["name"] for b in ev.params["benchmarks"]]

    assert names("es") == ["qa"]
    assert names("ru") == ["qa", "mgsm"]


# -- one axis moves only downstream keys ---------------------------------------------------------
def is_kind(*kinds: str) -> Callable[[Step], bool]:
    return lambda s: s.kind in kinds


def labelled(kinds: tuple[str, ...], **labels: str) -> Callable[[Step], bool]:
    return lambda s: s.kind in kinds and all(s.labels.get(k) == v for k, v in labels.items())


def either(*preds: Callable[[Step], bool]) -> Callable[[Step], bool]:
    return lambda s: any(p(s) for p in preds)


TRAIN_ON = ("train", "evaluate")
SUMMARY = is_kind("summarize")
AXES = [
    pytest.param("arms[1].lr", 3e-5, either(labelled(TRAIN_ON, arm="a2"), SUMMARY),
                 id="arm-lr"),
    pytest.param("engines.eng.max_new_tokens", 128,
                 either(is_kind("translate"), labelled(TRAIN_ON, condition="translated"),
                        labelled(TRAIN_ON, condition="rtt"), SUMMARY),
                 id="engine-max-new-tokens"),
    pytest.param("data.seed", 7, lambda s: True, id="data-seed"),
    pytest.param("data.size", 9, lambda s: True, id="data-size"),
    pytest.param("languages", ["es", "ru"], lambda s: False, id="nothing-changed"),
    pytest.param("training.epochs", 3, either(is_kind(*TRAIN_ON), SUMMARY), id="training-epochs"),
    pytest.param("models[1].id", "org/other", either(labelled(TRAIN_ON, model="m2"), SUMMARY),
                 id="model-id"),
    pytest.param("benchmarks[0].limit", 50, is_kind("evaluate", "summarize"),
                 id="benchmark-limit"),
    pytest.param("conditions[1].name", "machine", SUMMARY, id="rename-condition"),
    pytest.param("models[0].name", "first", SUMMARY, id="rename-model"),
    pytest.param("arms[0].name", "base", SUMMARY, id="rename-arm"),
    pytest.param("name", "renamed", SUMMARY, id="rename-experiment"),
    pytest.param("execution.max_parallel", 7, lambda s: False, id="execution-not-in-keys"),
    pytest.param("resources", {"train": {"gpus": 1}}, lambda s: False, id="resources-not-in-keys"),
    pytest.param("store", "s3://bucket/elsewhere", lambda s: False, id="store-not-in-keys"),
]

# Labels that a rename changes: match the new plan's steps back to the old names.
_RENAMES = {"conditions[1].name": ("condition", "machine", "translated"),
            "models[0].name": ("model", "first", "m1"),
            "arms[0].name": ("arm", "base", "a1")}


def _old_identity(step: Step, field: str) -> Identity:
    if field in _RENAMES:
        label, new, old = _RENAMES[field]
        labels = {k: (old if k == label and v == new else v) for k, v in step.labels.items()}
        return step.kind, tuple(sorted(labels.items()))
    return identity(step)


@pytest.mark.parametrize(("field", "value", "moves"), AXES)
def test_one_axis_moves_only_downstream_keys(field: str, value: Any,
                                             moves: Callable[[Step], bool]) -> None:
    assert_axis_moves(grid_doc, field, value, moves)


def assert_axis_moves(doc_of: Callable[[], dict[str, Any]], field: str, value: Any,
                      moves: Callable[[Step], bool]) -> None:
    before = build_plan(parse_spec(doc_of()))
    after = build_plan(parse_spec(set_path(doc_of(), field, value)))
    old = by_identity(before)
    new = {_old_identity(s, field): s for s in after.steps}
    assert new.keys() == old.keys(), "the grid's shape must not change"

    moved = {ident for ident, s in old.items() if new[ident].key != s.key}

    expected = {identity(s) for s in before.steps if moves(s)}
    assert moved == expected
    # Everything downstream of a moved step moved too (and only that, per the line above).
    moved_keys = {old[i].key for i in moved}
    assert before.downstream(moved_keys) <= moved_keys


def test_arm_lr_table_row_is_not_trivial() -> None:
    """Guard the table: the lr row must move some but not all train steps."""
    before = build_plan(parse_spec(grid_doc()))
    after = build_plan(parse_spec(set_path(grid_doc(), "arms[1].lr", 3e-5)))
    trains = {identity(s): s.key for s in before.steps if s.kind == "train"}
    new_trains = {identity(s): s.key for s in after.steps if s.kind == "train"}

    moved = [i for i in trains if trains[i] != new_trains[i]]
    assert 0 < len(moved) < len(trains)
    assert len(moved) == 2 * 3 * 2  # languages × conditions × models, for arm a2


def test_adding_a_language_keeps_the_other_languages_keys() -> None:
    before = by_identity(make_plan(languages=["es"]))
    after = by_identity(make_plan(languages=["es", "ru"]))

    for ident, step in before.items():
        if step.kind == "summarize":
            assert after[ident].key != step.key
        else:
            assert after[ident].key == step.key, ident
    assert sum(s.labels.get("language") == "ru" for s in after.values()) == len(before) - 1


def test_downstream_of_one_prepare_is_that_languages_work() -> None:
    plan = build_plan(parse_spec(grid_doc()))
    (prep,) = steps_where(plan, "prepare", language="ru", what="native sample")

    down = plan.downstream({prep.key})

    expected = {s.key for s in plan.steps if s.labels.get("language") == "ru"
                and s.key != prep.key} | {plan.summary.key}
    assert down == expected


def test_editing_the_english_pool_leaves_native_work_alone() -> None:
    doc = make_spec()
    before = build_plan(parse_spec(doc))
    after = build_plan(parse_spec(set_path(make_spec(), "data.english.path", "other/en.jsonl")))

    moved = {s.key for s in before.steps} - {s.key for s in after.steps}
    kept = {(s.kind, s.labels.get("condition"), s.labels.get("what")) for s in before.steps
            if s.key not in moved}
    assert ("prepare", None, "native sample") in kept
    assert ("train", "native", None) in kept and ("evaluate", "native", None) in kept
    assert {s.kind for s in before.steps if s.key in moved} == {
        "prepare", "translate", "train", "evaluate", "summarize"}
    assert all(s.labels.get("condition") != "native" for s in before.steps
               if s.key in moved and s.kind in ("train", "evaluate"))


# -- the multilingual mixture (mode: multi) ------------------------------------------------------
MIX = ["es", "de", "fi"]


def mixture_doc() -> dict[str, Any]:
    """es, ru targets × native/translated/rtt; a mono arm and a multi arm on a 3-language mixture."""
    doc = make_spec(
        languages=["es", "ru"],
        conditions=[condition("native"), condition("translated", "translated"),
                    condition("rtt", "round_trip")],
        arms=[arm("a1", 1e-4), {"name": "mx", "lr": 1e-4, "mode": "multi"}],
    )
    doc["data"]["mixture"] = {"languages": MIX, "size": 4}
    return doc


def test_multi_arm_trains_once_per_condition_and_evaluates_every_language() -> None:
    plan = build_plan(parse_spec(mixture_doc()))
    multi = steps_where(plan, "train", arm="mx")

    assert sorted(s.labels["condition"] for s in multi) == ["native", "rtt", "translated"]
    assert all(s.params["mode"] == "multi" and s.labels["language"] == "multi" for s in multi)
    for train in multi:
        evals = [s for s in plan.steps if s.kind == "evaluate" and s.inputs[0].key == train.key]
        assert sorted(e.labels["language"] for e in evals) == ["es", "ru"]
    (native_mix,) = steps_where(plan, "prepare", what="native mixture")
    assert native_mix.params["languages"] == MIX and native_mix.params["size"] == 4
    (native_train,) = steps_where(plan, "train", arm="mx", condition="native")
    assert [i.path for i in native_train.inputs] == [f"steps/prepare/{native_mix.key}/data.jsonl"]


def test_translated_mixture_draws_english_per_language_then_mixes() -> None:
    plan = build_plan(parse_spec(mixture_doc()))
    (native_mix,) = steps_where(plan, "prepare", what="native mixture")
    (mix,) = steps_where(plan, "prepare", condition="translated", what="mixture")

    assert [i.name for i in mix.inputs] == [f"part_{lang}" for lang in MIX]
    for lang, part in zip(MIX, mix.inputs, strict=True):
        (english,) = steps_where(plan, "prepare", language=lang, what="English sample",
                                 scope="mixture")
        (tr,) = steps_where(plan, "translate", language=lang, condition="translated", scope="mixture")
        assert english.inputs[0].path == f"steps/prepare/{native_mix.key}/parts/{lang}.jsonl"
        assert tr.inputs[0].key == english.key and part.key == tr.key
        assert (tr.params["source_language"], tr.params["target_language"]) == ("en", lang)
    # The round-trip mixture goes lang → en → lang on each native part.
    (rtt_mix,) = steps_where(plan, "prepare", condition="rtt", what="mixture")
    back = plan.by_key()[rtt_mix.inputs[0].key]
    pivot = plan.by_key()[back.inputs[0].key]
    assert (pivot.params["source_language"], back.params["target_language"]) == ("es", "es")
    assert pivot.inputs[0].path == f"steps/prepare/{native_mix.key}/parts/es.jsonl"


def test_mixture_counts() -> None:
    plan = build_plan(parse_spec(mixture_doc()))
    # mono: 2 native + 2 English samples; multi: 1 native mixture + 3 English parts + 2 mixes
    # translate: mono 2 × (1 + 2); multi 3 × (1 + 2)
    assert dict(plan.counts()) == {"prepare": 10, "translate": 15, "train": 9, "evaluate": 12,
                                   "summarize": 1}


def test_arm_conditions_limit_which_conditions_an_arm_trains() -> None:
    plan = make_plan(conditions=[condition("native"), condition("translated", "translated")],
                     arms=[arm("a1", 1e-4), {"name": "a2", "lr": 1e-6, "conditions": ["native"]}])

    assert sorted((s.labels["arm"], s.labels["condition"]) for s in plan.steps if s.kind == "train") == [
        ("a1", "native"), ("a1", "translated"), ("a2", "native")]


def test_a_condition_read_from_finished_translations_has_no_translate_step() -> None:
    released = {"kind": "released", "path": "/data/aya", "system": "google"}
    plan = make_plan(conditions=[condition("native"),
                                 {"name": "google", "kind": "translated", "source": released},
                                 {"name": "google-rtt", "kind": "round_trip", "source": released}])
    (native,) = steps_where(plan, "prepare", what="native sample")

    assert plan.counts()["translate"] == 0
    for cond, variant in (("google", "translated"), ("google-rtt", "round_trip")):
        (step,) = steps_where(plan, "prepare", condition=cond)
        assert step.params["source"] == released and step.params["variant"] == variant
        assert [i.key for i in step.inputs] == [native.key]  # sized (or paired) to the native set
        (train,) = steps_where(plan, "train", condition=cond)
        assert train.inputs[0].path == f"steps/prepare/{step.key}/data.jsonl"


MULTI_ON = ("train", "evaluate")
MIXTURE_AXES = [
    pytest.param("data.mixture.size", 9,
                 either(labelled(("prepare", "translate"), scope="mixture"),
                        labelled(("prepare",), what="native mixture"),
                        labelled(("prepare",), what="mixture"), labelled(MULTI_ON, arm="mx"), SUMMARY),
                 id="mixture-size"),
    pytest.param("arms[1].lr", 3e-5, either(labelled(MULTI_ON, arm="mx"), SUMMARY), id="multi-lr"),
    pytest.param("arms[0].lr", 3e-5, either(labelled(MULTI_ON, arm="a1"), SUMMARY), id="mono-lr"),
    pytest.param("engines.eng.max_new_tokens", 128,
                 either(is_kind("translate"), labelled(("prepare",), what="mixture", condition="translated"),
                        labelled(("prepare",), what="mixture", condition="rtt"),
                        labelled(MULTI_ON, condition="translated"), labelled(MULTI_ON, condition="rtt"),
                        SUMMARY),
                 id="engine-moves-mono-and-mixture-translations"),
]


@pytest.mark.parametrize(("field", "value", "moves"), MIXTURE_AXES)
def test_one_axis_moves_only_downstream_keys_with_a_mixture(field: str, value: Any,
                                                            moves: Callable[[Step], bool]) -> None:
    assert_axis_moves(mixture_doc, field, value, moves)


def test_dropping_a_target_language_keeps_the_mixture_and_its_training() -> None:
    before = build_plan(parse_spec(mixture_doc()))
    after = build_plan(parse_spec(set_path(mixture_doc(), "languages", ["es"])))
    keys = {s.key for s in after.steps}

    kept = [s for s in before.steps if s.labels.get("scope") == "mixture"
            or s.labels.get("what") in ("native mixture", "mixture")
            or (s.kind == "train" and s.labels["arm"] == "mx")]
    assert kept and all(s.key in keys for s in kept)


# -- the paper's grid ----------------------------------------------------------------------------
def test_paper_spec_is_valid_and_plans_the_papers_grid(repo_root: Path) -> None:
    from nativejobs.plan import estimate_gpu_hours

    spec = load_spec(repo_root / "examples" / "paper.yaml")
    plan = build_plan(spec)

    assert len(spec.models) == 8 and spec.languages == ("es", "ru", "zh")
    assert len(spec.data.mixture.languages) == 8
    # mono: 3 languages × (5 conditions at 1e-4 + 3 at 1e-6) × 8 models = 192;
    # multi: 3 conditions × 2 lrs × 8 models = 48, each evaluated in 3 languages;
    # every evaluation judged by the two judges (both open QA sets in one judge step each).
    assert dict(plan.counts()) == {"prepare": 34, "train": 240, "evaluate": 336, "judge": 672,
                                   "summarize": 1}
    # The HTTP judge (GPT-4-Turbo) holds no GPU; the local one does.
    assert estimate_gpu_hours(plan, spec) == {"prepare": 0.0, "train": 240 * 4.0,
                                              "evaluate": 336 * 1.5, "judge": 336 * 0.2,
                                              "summarize": 0.0}
    seen: set[str] = set()
    for step in plan.steps:
        assert all(i.key in seen for i in step.inputs)
        seen.add(step.key)


def test_gpu_hours_skip_remote_engines() -> None:
    from nativejobs.plan import estimate_gpu_hours

    spec = make_spec(
        languages=["es", "ru"],
        engines={"g": {"kind": "google", "api_key_env": "GOOGLE_API_KEY"},
                 "l": {"kind": "llm", "model": "org/t"}},
        conditions=[condition("native"), condition("google", "translated", "g"),
                    condition("llm", "translated", "l")],
        resources={"translate": {"gpus": 1, "gpu_hours_per_step": 0.5},
                   "train": {"gpus": 1, "gpu_hours_per_step": 2}})
    parsed = parse_spec(spec)
    plan = build_plan(parsed)

    assert plan.counts()["translate"] == 4
    hours = estimate_gpu_hours(plan, parsed)
    assert hours["translate"] == 2 * 0.5  # the two llm translations; Google's run on CPU
    assert hours["train"] == 6 * 2.0 and hours["prepare"] == 0.0
    one_train = {next(s.key for s in plan.steps if s.kind == "train")}
    assert estimate_gpu_hours(plan, parsed, only=one_train) == {
        "prepare": 0.0, "translate": 0.0, "train": 2.0, "evaluate": 0.0, "summarize": 0.0}


def test_summarize_pairs_each_round_trip_with_its_own_system() -> None:
    from tests.unit.builders import condition, make_plan

    paired = make_plan(conditions=[condition("native"), condition("google", "translated", "eng"),
                                   condition("google-rtt", "round_trip", "eng")])
    unpaired = make_plan(conditions=[condition("native"), condition("translated", "translated")])

    assert paired.summary.params["pairs"] == {"google-rtt": "google"}
    assert "pairs" not in unpaired.summary.params  # no round trip: the summary key does not move
