"""Early stopping (``patience``) in ``RecipeCallback``: when it stops, which adapter it keeps, and
how the stop is recorded. The callback is driven with scripted held-out perplexities; the e2e
tests run the same through the Trainer."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pytest
from transformers import TrainerControl, TrainerState

from nativejobs.steps.train import _stop_record
from nativejobs.training.progress import Progress
from nativejobs.training.recipe import RecipeCallback

STEPS_PER_EPOCH = 3


class _Adapter:
    """The part of a PEFT model the callback uses; the saved file names the epoch it came from."""

    epoch = 0

    def save_pretrained(self, path: Path) -> None:
        Path(path).mkdir(parents=True)
        (Path(path) / "epoch").write_text(str(self.epoch))


def _run_epochs(tmp_path: Path, perplexities: list[float],
                patience: int | None) -> tuple[Progress, int | None, Path]:
    """Evaluate one epoch per perplexity until the callback stops training.

    Returns (progress, the epoch after which training stopped or None, the best adapter's folder).
    """
    progress, best_dir, model = Progress(), tmp_path / "best", _Adapter()
    callback = RecipeCallback(progress, best_dir=best_dir, checkpoints=None, every_steps=10,
                              patience=patience, log=logging.LoggerAdapter(logging.getLogger("t"), {}))
    state, control = TrainerState(), TrainerControl()
    for epoch, ppl in enumerate(perplexities, start=1):
        state.epoch, state.global_step, model.epoch = float(epoch), epoch * STEPS_PER_EPOCH, epoch
        callback.on_evaluate(None, state, control,  # type: ignore[arg-type]
                             metrics={"eval_loss": math.log(ppl), "eval_perplexity": ppl}, model=model)
        if control.should_training_stop:
            return progress, epoch, best_dir
    return progress, None, best_dir


@pytest.mark.parametrize(("perplexities", "patience", "stopped_after", "best"), [
    pytest.param([5, 4, 4.5, 4.2, 3], 2, 4, 2, id="two-worse-epochs-stop"),
    pytest.param([5, 4, 4.1, 3], 1, 3, 2, id="patience-1"),
    pytest.param([5, 6, 4, 4.5, 3.9], 2, None, 5, id="recovers-within-patience"),
    pytest.param([5, 5, 5, 1], 2, 3, 1, id="a-tie-is-not-better"),
    pytest.param([5, 6, 7, 8], None, None, 1, id="no-patience-runs-every-epoch"),
])
def test_patience_stops_after_that_many_epochs_without_a_better_perplexity(
        tmp_path: Path, perplexities: list[float], patience: int | None, stopped_after: int | None,
        best: int) -> None:
    progress, stopped, best_dir = _run_epochs(tmp_path, perplexities, patience)

    assert stopped == stopped_after
    assert progress.stopped_early == (stopped is not None)
    assert [e.epoch for e in progress.epochs] == list(range(1, (stopped or len(perplexities)) + 1))
    assert progress.best_epoch == best and progress.best_perplexity == perplexities[best - 1]
    assert (best_dir / "epoch").read_text() == str(best)  # the best epoch's adapter, not the last's


def test_the_stop_is_recorded_with_its_epoch_and_reason(tmp_path: Path) -> None:
    progress, _, _ = _run_epochs(tmp_path, [5, 4, 4.5, 4.2, 3], 2)

    assert _stop_record(progress, patience=2, epochs=10) == {
        "epoch": 4, "reason": "patience",
        "message": "held-out perplexity not better than epoch 2's for 2 epochs (patience 2)"}


def test_a_run_of_every_epoch_records_max_epochs(tmp_path: Path) -> None:
    progress, _, _ = _run_epochs(tmp_path, [5, 4, 3], 2)

    assert _stop_record(progress, patience=2, epochs=3) == {
        "epoch": 3, "reason": "max_epochs", "message": "all 3 epochs run"}


def test_the_stop_survives_a_checkpoint(tmp_path: Path) -> None:
    """A step killed after its early stop's checkpoint must finish, not train on (train.run)."""
    progress, _, _ = _run_epochs(tmp_path, [5, 4, 4.5, 4.2], 2)

    again = Progress.from_json(progress.to_json())

    assert (again.stopped_early, again.stale_epochs, again.best_epoch) == (True, 2, 2)
