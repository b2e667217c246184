"""``llm``: an instruction-following LLM with the paper's prompt, loaded through ``engines``.

``nativejobs.engines.load_engine`` picks the backend (``auto``: vLLM on a GPU when installed,
else transformers) and loads the model; this module only writes the prompts. A call is one
batch: vLLM schedules it continuously, transformers pads it longest-first. The prompt goes
through the model's chat template when it has one. Attempt 0 is greedy; a retry samples at
temperature 0.7 with the attempt as seed.
"""

from __future__ import annotations

import logging
from typing import Any

from nativejobs.translation.base import RETRY_TEMPERATURE, render_prompt
from nativejobs.translation.config import EngineConfig

__all__ = ["LLMTranslator"]

log = logging.getLogger(__name__)


class LLMTranslator:
    def __init__(self, cfg: EngineConfig) -> None:
        from nativejobs.engines import load_engine

        assert cfg.model  # the spec requires it for this kind
        self.cfg = cfg
        self.batch_size = cfg.batch_size
        self.usage = {"prompts": 0}
        self.engine: Any = load_engine(cfg.model, batch_size=cfg.batch_size, backend=cfg.backend)
        self.backend = self.engine.name
        log.info("llm engine %s on %s", cfg.model, self.backend)

    def translate(self, texts: list[str], *, src: str, tgt: str, attempt: int = 0) -> list[str]:
        if not texts:
            return []
        prompts = [self.engine.chat_prompt(render_prompt(self.cfg.prompt_template, t, src, tgt))
                   for t in texts]
        self.usage["prompts"] += len(prompts)
        out = self.engine.generate(prompts, max_new_tokens=self.cfg.max_new_tokens,
                                   temperature=0.0 if attempt == 0 else RETRY_TEMPERATURE,
                                   seed=attempt)
        return [t.strip() for t in out]

    def close(self) -> None:
        self.engine = None
