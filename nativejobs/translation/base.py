"""One interface for every translation engine, and the registry that builds them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from nativejobs.errors import NativeJobsError, StepInputError
from nativejobs.languages import LANGUAGES
from nativejobs.translation.config import EngineConfig

__all__ = ["ENGINE_KINDS", "RETRY_TEMPERATURE", "TranslationServiceError", "Translator",
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


def _llm(cfg: EngineConfig) -> Translator:
    from nativejobs.translation.llm import LLMTranslator

    return LLMTranslator(cfg)


def _google(cfg: EngineConfig) -> Translator:
    from nativejobs.translation.google import GoogleTranslator

    return GoogleTranslator(cfg)


def _openai(cfg: EngineConfig) -> Translator:
    from nativejobs.translation.openai import OpenAITranslator

    return OpenAITranslator(cfg)


def _seq2seq(cfg: EngineConfig) -> Translator:
    from nativejobs.translation.seq2seq import Seq2SeqTranslator

    return Seq2SeqTranslator(cfg)


_REGISTRY: dict[str, Callable[[EngineConfig], Translator]] = {
    "llm": _llm, "google": _google, "openai": _openai, "seq2seq": _seq2seq}
ENGINE_KINDS = tuple(_REGISTRY)


def load_translator(cfg: EngineConfig) -> Translator:
    """Build the engine ``cfg`` names (heavy imports happen only here).

    Raises:
        StepInputError: If the kind is unknown or the engine's configuration is unusable.
    """
    try:
        factory = _REGISTRY[cfg.kind]
    except KeyError:
        raise StepInputError(f"engine kind {cfg.kind!r} is unknown; use one of: "
                             f"{', '.join(ENGINE_KINDS)}") from None
    return factory(cfg)
