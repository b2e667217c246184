"""The spec's defaults are the paper's recipe, and the train step accepts what the plan sends."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from nativejobs.errors import StepInputError
from nativejobs.spec import TrainingSpec
from nativejobs.steps._context import StepContext
from nativejobs.steps.train import Params, TrainStep, _problems
from nativejobs.store import FileStore
from nativejobs.training.progress import EpochRecord, Progress, StepLoss


def _params(**training: Any) -> dict[str, Any]:
    return {"model": {"id": "some/model", "revision": None},
            "training": TrainingSpec(**training).model_dump(mode="json"),
            "lr": 1e-4, "mode": "mono", "language": "ru"}


def test_defaults_are_the_papers_recipe() -> None:
    t = TrainingSpec()

    assert (t.lora.r, t.lora.alpha, t.lora.dropout) == (8, 16, 0.05)  # paper §4.1
    assert t.lora.target_modules == ("q_proj", "k_proj", "v_proj")  # not PEFT's q, v default
    assert (t.epochs, t.effective_batch_size, t.base_precision) == (10, 64, "int8")
    assert (t.template, t.patience) == ("alpaca", None)  # every epoch; the best one is kept
    assert (t.lr_scheduler, t.warmup_steps) == ("linear", 100)  # the authors' earlier code
    assert t.packing


@pytest.mark.parametrize("mode", ["mono", "multi"], ids=["mono", "multi"])
def test_step_params_accept_the_plans_training_dump(mode: str) -> None:
    p = Params.model_validate({**_params(), "mode": mode})

    assert p.training.lora.target_modules == ["q_proj", "k_proj", "v_proj"]
    assert _problems(p) == []


def test_step_params_cover_every_spec_field() -> None:
    assert set(Params.model_fields["training"].annotation.model_fields) == set(TrainingSpec.model_fields)


def test_spec_rejects_a_micro_batch_that_does_not_divide() -> None:
    with pytest.raises(ValueError, match="micro_batch_size 3 must divide effective_batch_size 64"):
        TrainingSpec(micro_batch_size=3)


def test_step_init_reports_every_bad_param_at_once(tmp_path: Path) -> None:
    doc = _params()
    doc["training"]["micro_batch_size"] = 5
    ctx = StepContext(FileStore(tmp_path), "train", "k", {**doc, "lr": -1.0}, {}, {}, tmp_path,
                      logging.LoggerAdapter(logging.getLogger("test"), {}))

    with pytest.raises(StepInputError) as e:
        TrainStep(ctx)

    assert str(e.value) == ("training.micro_batch_size 5 must divide effective_batch_size 64; "
                            "lr: got -1.0; must be a positive number")


def test_progress_round_trips_through_json() -> None:
    prog = Progress(epochs=[EpochRecord(1, 5, 2.5, 2.25, 9.49)], losses=[StepLoss(1, 0.2, 3.0, 1e-4, 0.5)],
                    best_epoch=1, train_s=12.5, resumed_from=[3])

    again = Progress.from_json(prog.to_json())

    assert again == prog and again.best_perplexity == 9.49


def test_patience_without_heldout_data_is_rejected() -> None:
    """Patience measures held-out perplexity; without held-out data it would never fire."""
    with pytest.raises(ValidationError, match="patience 2 needs held-out data to measure"):
        Params.model_validate(_params(patience=2, heldout_fraction=0.0))
