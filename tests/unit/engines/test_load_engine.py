"""``load_engine`` builds the backend the engine registry names, with the caller's arguments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nativejobs.engines import BACKENDS, ENGINES, load_engine
from nativejobs.errors import StepInputError


class Built:
    def __init__(self, model_id: str, **kw: Any) -> None:
        self.model_id, self.kw = model_id, kw


def test_the_registry_builds_the_named_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ENGINES, "transformers", Built)

    engine: Any = load_engine("org/m", revision="r", adapter=Path("a"), batch_size=3)

    assert (engine.model_id, engine.kw) == ("org/m", {"revision": "r", "adapter": Path("a"),
                                                      "batch_size": 3})
    assert BACKENDS == ("auto", "transformers", "vllm")


def test_an_unknown_backend_lists_the_known_ones() -> None:
    with pytest.raises(StepInputError, match="engine backend 'tgi' is unknown; use one of: "
                                             "transformers, vllm"):
        load_engine("org/m", backend="tgi")
