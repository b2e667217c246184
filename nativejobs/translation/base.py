"""One interface for every translation engine, and the registry that builds them (lazily)."""

from __future__ import annotations

from typing import Protocol

from nativejobs.errors import NativeJobsError, StepInputError
from nativejobs.languages import LANGUAGES
from nativejobs.registry import Registry
from nativejobs.translation.config import EngineConfig

__all__ = ["ENGINE_KINDS", "RETRY_TEMPERATURE", "TRANSLATORS", "TranslationServiceError", "Translator",
           "load_translator", "render_prompt"]

# Retries of a flagged segment sample at this temperature (attempt n seeds the sampler).
RETRY_TEMPERATURE = 0.7


class TranslationServiceError(NativeJobsError):
    """When a translation service keeps failing (429, 5xx, timeouts) after every retry.

    Retryable: the step exits 1 and the orchestrator tries again later; finished segments are
    already in the cache.
    """


class Translator(Protocol):
    """A loaded engine. ``translate`` maps texts to their translations, in order.

    ``attempt`` 0 is the engine's plain (greedy, deterministic) answer; a retry of a flagged
    segment passes 1, 2, ... and an engine that can sample does so with that seed.
    ``usage`` counts what the engine was sent (``characters``, ``requests``) for cost reports.
    """

    batch_size: int
    usage: dict[str, int]

    def translate(self, texts: list[str], *, src: str, tgt: str, attempt: int = 0) -> list[str]: ...

    def close(self) -> None: ...


def render_prompt(template: str, text: str, src: str, tgt: str) -> str:
    """The LLM prompt for one segment (languages by English name, as the paper wrote them)."""
    return (template.replace("{src}", LANGUAGES[src].name).replace("{tgt}", LANGUAGES[tgt].name)
            .replace("{text}", text))


# Each takes the step's EngineConfig; a module is imported only when its kind is built.
TRANSLATORS: Registry[type[Translator]] = Registry("engine kind", error=StepInputError)
TRANSLATORS.register("llm", "nativejobs.translation.llm:LLMTranslator")
TRANSLATORS.register("google", "nativejobs.translation.google:GoogleTranslator")
TRANSLATORS.register("openai", "nativejobs.translation.openai:OpenAITranslator")
TRANSLATORS.register("seq2seq", "nativejobs.translation.seq2seq:Seq2SeqTranslator")
ENGINE_KINDS = TRANSLATORS.names()


def load_translator(cfg: EngineConfig) -> Translator:
    """Build the engine ``cfg`` names (heavy imports happen only here).

    Raises:
        StepInputError: If the kind is unknown or the engine's configuration is unusable.
    """
    return TRANSLATORS[cfg.kind](cfg)  # type: ignore[call-arg]
