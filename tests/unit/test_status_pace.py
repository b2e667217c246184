"""``nativejobs status``'s pace: the median time a done step of each kind ran, and the step time
the steps not done would take at that pace."""

from __future__ import annotations

import pytest

from nativejobs.cli import _duration, _pace, _time_left
from nativejobs.runs import StepRecord, StepStatus


def status(kind: str, key: str, state: str = "done") -> StepStatus:
    return StepStatus(StepRecord(kind, key, {}, []), state, 1, "")


def test_pace_is_the_median_of_each_kinds_timed_steps() -> None:
    steps = [status("train", k) for k in "abc"] + [status("evaluate", "d"), status("evaluate", "e")]
    took = {"a": 100.0, "b": 120, "c": 9000.0, "d": None, "e": True}  # legacy markers: no wall_s

    assert _pace(steps, took) == {"train": 120.0}


def test_time_left_counts_each_kinds_pace_and_names_the_untimed() -> None:
    left = [status("train", "x", "not run"), status("train", "y", "launched"),
            status("evaluate", "z", "not run")]

    assert _time_left(left, {"train": 5400.0}) == \
        "step time left at the pace so far: about 3h 00m (train); not timed yet: evaluate"
    assert _time_left(left, {}) == "step time left at the pace so far: not timed yet: train, evaluate"


@pytest.mark.parametrize(("seconds", "text"), [(0.4, "0s"), (59.6, "1m 00s"), (61, "1m 01s"),
                                               (3599, "59m 59s"), (3600, "1h 00m"), (90061, "25h 01m")])
def test_duration(seconds: float, text: str) -> None:
    assert _duration(seconds) == text
