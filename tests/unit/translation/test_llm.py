"""The ``llm`` translator goes through ``nativejobs.engines``: the engine registry loads the model."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from nativejobs.engines import ENGINES
from nativejobs.translation import EngineConfig, load_translator


class FakeEngine:
    """Echoes each prompt with the decoding it was asked for; records how it was built."""

    name = "fake"
    built: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, model_id: str, *, revision: str | None = None, adapter: Path | None = None,
                 batch_size: int = 8) -> None:
        FakeEngine.built.append({"model": model_id, "batch_size": batch_size})

    def chat_prompt(self, message: str) -> str:
        return f"<user>{message}"

    def generate(self, prompts: list[str], *, max_new_tokens: int, stop: tuple[str, ...] = (),
                 temperature: float = 0.0, seed: int = 0) -> list[str]:
        return [f" {p[-5:]}|{max_new_tokens}|{temperature}|{seed} " for p in prompts]


@pytest.mark.parametrize("backend", ["transformers", "vllm"])
def test_the_llm_translator_loads_its_model_through_the_engines(
        backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ENGINES, backend, FakeEngine)
    FakeEngine.built = []
    cfg = EngineConfig(kind="llm", model="org/m", batch_size=5, max_new_tokens=9, backend=backend)  # type: ignore[arg-type]

    t = load_translator(cfg)

    assert FakeEngine.built == [{"model": "org/m", "batch_size": 5}]
    assert t.translate(["Hello"], src="en", tgt="es") == ["Hello|9|0.0|0"]
    assert t.translate(["Hello"], src="en", tgt="es", attempt=2) == ["Hello|9|0.7|2"]
    assert t.translate([], src="en", tgt="es") == [] and t.usage == {"prompts": 2}
