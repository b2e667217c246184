"""The judges: an OpenAI-compatible HTTP endpoint, or a local model through the engines.

``JudgeConfig`` is what a judge step knows of ``nativejobs.spec.JudgeSpec`` (steps do not import
the spec; field for field, defaults included). ``load_judge`` builds the judge it names; heavy
imports (torch, the model) happen only there.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from nativejobs.engines._http import Retry, ServiceError
from nativejobs.errors import StepInputError
from nativejobs.judge.grading import Judge
from nativejobs.judge.prompt import PROMPT_VERSION
from nativejobs.registry import Registry

__all__ = ["JUDGES", "JudgeConfig", "LocalJudge", "OpenAIJudge", "load_judge"]


class JudgeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["openai", "local"]
    model: str
    base_url: str | None = None
    api_key_env: str | None = None
    revision: str | None = None
    temperature: float = 0.0
    max_tokens: int = 512
    retries: int = 2
    batch_size: int = 8
    extra_body: dict[str, Any] | None = None

    @property
    def tries(self) -> int:
        return 1 + self.retries

    def identity(self) -> dict[str, Any]:
        """What decides a verdict, given the instruction and response: the verdict cache's key.

        The endpoint, the key and the batch size are left out: they change how a verdict is
        fetched, not what it is, so a moved server or a bigger batch reuses the cache.
        """
        return {"kind": self.kind, "model": self.model, "revision": self.revision,
                "temperature": self.temperature, "max_tokens": self.max_tokens,
                "tries": self.tries, "prompt_version": PROMPT_VERSION, "extra_body": self.extra_body}


class OpenAIJudge:
    """A judge served behind an OpenAI-compatible endpoint; ``batch_size`` requests at once."""

    def __init__(self, cfg: JudgeConfig, *, name: str = "openai", retry: Retry | None = None) -> None:
        from nativejobs.engines.openai import OpenAIChat

        assert cfg.base_url  # the spec requires it for this kind
        self.cfg = cfg
        self.client = OpenAIChat(cfg.base_url, cfg.model, api_key_env=cfg.api_key_env, retry=retry,
                                 error=ServiceError, who=f"judge {name}",
                                 gave_up="the step will be retried; finished verdicts are cached")
        self.usage = self.client.usage

    def _one(self, messages: list[dict[str, str]]) -> str:
        return self.client.complete(messages, max_tokens=self.cfg.max_tokens,
                                    temperature=self.cfg.temperature, extra=self.cfg.extra_body)

    def complete(self, conversations: list[list[dict[str, str]]]) -> list[str]:
        if not conversations:
            return []
        with ThreadPoolExecutor(max_workers=min(self.cfg.batch_size, len(conversations))) as pool:
            return list(pool.map(self._one, conversations))

    def close(self) -> None:
        pass


class LocalJudge:
    """A judge model loaded here (transformers; hub id, path or ``pypi:<package>``)."""

    def __init__(self, cfg: JudgeConfig, *, name: str = "local") -> None:
        from nativejobs.engines import load_engine

        self.cfg = cfg
        self.engine: Any = load_engine(cfg.model, revision=cfg.revision, batch_size=cfg.batch_size)
        self.usage = {"generations": 0}

    def complete(self, conversations: list[list[dict[str, str]]]) -> list[str]:
        prompts = [self.engine.render_chat(c) for c in conversations]
        self.usage["generations"] += len(prompts)
        out = self.engine.generate(prompts, max_new_tokens=self.cfg.max_tokens,
                                   temperature=self.cfg.temperature)
        return [text.strip() for text in out]

    def close(self) -> None:
        self.engine = None


# JudgeConfig.kind → the judge class; each is built as ``cls(cfg, name=...)``.
JUDGES: Registry[Any] = Registry("judge kind", error=StepInputError)
JUDGES.register("openai", OpenAIJudge)
JUDGES.register("local", LocalJudge)


def load_judge(cfg: JudgeConfig, *, name: str = "judge") -> Judge:
    """The judge ``cfg`` describes.

    Raises:
        StepInputError: If it cannot be set up (an unset key variable, a missing model package).
    """
    return JUDGES[cfg.kind](cfg, name=name)  # type: ignore[no-any-return]
