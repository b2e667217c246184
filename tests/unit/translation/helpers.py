"""Helpers for the translation tests: step contexts and a counting fake engine."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nativejobs.steps._context import StepContext
from nativejobs.store import Store
from nativejobs.translation import EngineConfig


@dataclass
class FakeTranslator:
    """Upper-cases text and tags it with the target language; counts every call.

    ``bad``: texts it answers in the wrong language (kept as is) at attempt 0.
    """

    batch_size: int = 3
    calls: list[tuple[str, str, int, list[str]]] = field(default_factory=list)
    bad: frozenset[str] = frozenset()
    fail_after: int | None = None  # raise on the call after this many (a killed step)
    usage: dict[str, int] = field(default_factory=lambda: {"characters": 0})

    def translate(self, texts: list[str], *, src: str, tgt: str, attempt: int = 0) -> list[str]:
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise KeyboardInterrupt("killed")
        self.calls.append((src, tgt, attempt, list(texts)))
        self.usage["characters"] += sum(map(len, texts))
        return [t if (t in self.bad and attempt == 0) else f"{t.upper()} [{tgt}{attempt or ''}]"
                for t in texts]

    def close(self) -> None:
        pass

    @property
    def segments(self) -> int:
        return sum(len(c[3]) for c in self.calls)


def make_ctx(store: Store, tmp_path: Path, *, kind: str, key: str, params: dict[str, Any],
             inputs: dict[str, dict[str, str]] | None = None) -> StepContext:
    log = logging.LoggerAdapter(logging.getLogger("test.steps"), {"step": f"{kind}/{key}"})
    work = tmp_path / "work" / key
    work.mkdir(parents=True, exist_ok=True)
    return StepContext(store, kind, key, params, {}, inputs or {}, work, log)


def engine_params(**overrides: Any) -> dict[str, Any]:
    doc = {"kind": "llm", "model": "org/fake", "batch_size": 3, **overrides}
    return EngineConfig(**doc).model_dump(mode="json", exclude_none=True)
