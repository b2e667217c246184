"""The planner stays light and speaks the steps' language: importing it (or the Job renderer)
loads no step, ML or report module, and every step it plans is valid input to that step."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from nativejobs.plan import build_plan
from nativejobs.spec import load_spec
from nativejobs.versions import JUDGE_PROMPT_VERSION, STEP_VERSIONS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# What a controller must never load: the steps (they run in jobs), the ML stack, the report.
HEAVY = ("nativejobs.steps", "nativejobs.training", "nativejobs.translation", "nativejobs.judge",
         "nativejobs.report", "nativejobs.engines", "torch", "transformers", "peft", "datasets",
         "lm_eval", "vllm", "numpy")


@pytest.mark.parametrize("module", ["nativejobs.plan", "nativejobs.k8s.render"])
def test_importing_loads_no_step_ml_or_report_module(module: str) -> None:
    out = subprocess.run([sys.executable, "-c", f"import {module}, sys; print(sorted(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout
    loaded = ast.literal_eval(out)  # the module names a fresh interpreter printed

    assert module in loaded
    assert [m for m in loaded if m.split(".")[0] in HEAVY or m.startswith(HEAVY)] == []


# The paper's conditions read released sets (no translate step); the quickstart translates.
@pytest.mark.parametrize("example", ["paper.yaml", "quickstart.yaml"])
def test_every_planned_step_is_valid_input_to_its_step(example: str) -> None:
    plan = build_plan(load_spec(EXAMPLES / example))

    for step in plan.steps:
        params_model = importlib.import_module(f"nativejobs.steps.{step.kind}").Params
        params_model.model_validate(step.params)  # raises, naming the field, on a mismatch
    assert set(plan.counts()) <= set(STEP_VERSIONS)


def test_the_planners_versions_are_the_steps_own() -> None:
    from nativejobs.judge import PROMPT_VERSION

    for kind, version in STEP_VERSIONS.items():
        assert version == importlib.import_module(f"nativejobs.steps.{kind}").VERSION, kind
    assert JUDGE_PROMPT_VERSION == PROMPT_VERSION  # the judge prompt's version, in judge keys
