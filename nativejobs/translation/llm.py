"""``llm``: an instruction-following LLM with the paper's prompt, loaded in the job.

vLLM on a GPU when it is installed (``backend: auto`` or ``vllm``), else the transformers
engine of ``nativejobs.engines`` (CPU, or GPU without vLLM). Either way a call is one batch:
vLLM schedules it continuously, transformers pads it longest-first. The prompt goes through
the model's chat template when it has one. Attempt 0 is greedy; a retry samples at
temperature 0.7 with the attempt as seed.
"""

from __future__ import annotations

import logging
from typing import Any

from nativejobs.translation.base import RETRY_TEMPERATURE, render_prompt
from nativejobs.translation.config import EngineConfig

__all__ = ["LLMTranslator", "pick_backend"]

log = logging.getLogger(__name__)


def pick_backend(cfg: EngineConfig) -> str:
    """``vllm`` on a GPU machine with vLLM installed, else ``transformers`` (for ``auto``)."""
    if cfg.backend != "auto":
        return cfg.backend
    try:
        import torch
        import vllm  # noqa: F401
    except ImportError:
        return "transformers"
    return "vllm" if torch.cuda.is_available() else "transformers"


class LLMTranslator:
    def __init__(self, cfg: EngineConfig) -> None:
        assert cfg.model  # the spec requires it for this kind
        self.cfg = cfg
        self.batch_size = cfg.batch_size
        self.backend = pick_backend(cfg)
        self.usage = {"prompts": 0}
        log.info("llm engine %s on %s", cfg.model, self.backend)
        self._impl: Any = _VLLM(cfg) if self.backend == "vllm" else _Transformers(cfg)

    def translate(self, texts: list[str], *, src: str, tgt: str, attempt: int = 0) -> list[str]:
        if not texts:
            return []
        messages = [render_prompt(self.cfg.prompt_template, t, src, tgt) for t in texts]
        self.usage["prompts"] += len(messages)
        return [t.strip() for t in self._impl.generate(messages, attempt)]

    def close(self) -> None:
        self._impl = None


class _Transformers:
    def __init__(self, cfg: EngineConfig) -> None:
        from nativejobs.engines import load_engine

        assert cfg.model
        self.cfg = cfg
        self.engine: Any = load_engine(cfg.model, batch_size=cfg.batch_size)

    def generate(self, messages: list[str], attempt: int) -> list[str]:
        prompts = [self.engine.chat_prompt(m) for m in messages]
        temperature = 0.0 if attempt == 0 else RETRY_TEMPERATURE
        return list(self.engine.generate(prompts, max_new_tokens=self.cfg.max_new_tokens,
                                         temperature=temperature, seed=attempt))


class _VLLM:
    def __init__(self, cfg: EngineConfig) -> None:
        from vllm import LLM

        from nativejobs.engines.models import resolve_model

        assert cfg.model
        self.cfg = cfg
        self.llm = LLM(model=resolve_model(cfg.model), seed=0)
        self.has_template = bool(getattr(self.llm.get_tokenizer(), "chat_template", None))

    def generate(self, messages: list[str], attempt: int) -> list[str]:
        from vllm import SamplingParams

        params = SamplingParams(max_tokens=self.cfg.max_new_tokens,
                                temperature=0.0 if attempt == 0 else RETRY_TEMPERATURE,
                                seed=attempt or None)
        if self.has_template:
            outs = self.llm.chat([[{"role": "user", "content": m}] for m in messages], params,
                                 use_tqdm=False)
        else:
            outs = self.llm.generate(messages, params, use_tqdm=False)
        return [o.outputs[0].text for o in outs]
