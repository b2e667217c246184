"""Machine translation for the translate step: four engines behind one interface.

``llm`` (the paper's prompt; vLLM on GPU, transformers on CPU), ``google`` (Cloud Translation
v2 REST), ``openai`` (any OpenAI-compatible chat endpoint) and ``seq2seq`` (NLLB/MADLAD-style,
transformers or CTranslate2) all implement ``Translator`` (models load only through
``nativejobs.engines``); ``load_translator`` builds one from the step's ``EngineConfig``.
Around them: ``layout`` keeps formatting (code blocks, lists, line breaks), ``SegmentCache``
keeps every translated segment in the store, and ``QualityChecker`` flags results in the
wrong language or of an unlikely length.
"""

from nativejobs.translation.base import (
    ENGINE_KINDS,
    TranslationServiceError,
    Translator,
    load_translator,
    render_prompt,
)
from nativejobs.translation.cache import SegmentCache
from nativejobs.translation.config import PAPER_PROMPT, EngineConfig, QualityConfig
from nativejobs.translation.quality import FLAGS, QualityChecker, identify_language
from nativejobs.translation.segments import Layout, layout

__all__ = [
    "ENGINE_KINDS", "FLAGS", "PAPER_PROMPT", "EngineConfig", "Layout", "QualityChecker",
    "QualityConfig", "SegmentCache", "TranslationServiceError", "Translator", "identify_language",
    "layout", "load_translator", "render_prompt",
]
