"""``openai``: any OpenAI-compatible chat endpoint (a vLLM server, llama.cpp's, a hosted model).

Each segment is one ``POST {endpoint}/chat/completions`` with the paper's prompt as the user
message; ``batch_size`` requests run at once. Attempt 0 is greedy (temperature 0); a retry
samples at temperature 0.7 with the attempt as seed. 429 and 5xx are retried with backoff.
The key, if the server wants one, comes from the environment variable the spec names. The
HTTP client is the shared ``nativejobs.engines.openai.OpenAIChat`` (the HTTP judge uses it too).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from nativejobs.engines.openai import OpenAIChat
from nativejobs.translation._http import Retry
from nativejobs.translation.base import RETRY_TEMPERATURE, TranslationServiceError, render_prompt
from nativejobs.translation.config import EngineConfig

__all__ = ["OpenAITranslator"]


class OpenAITranslator:
    def __init__(self, cfg: EngineConfig, *, retry: Retry | None = None) -> None:
        assert cfg.endpoint and cfg.model  # the spec requires both for this kind
        self.cfg = cfg
        self.client = OpenAIChat(cfg.endpoint, cfg.model, api_key_env=cfg.api_key_env,
                                 retry=retry, error=TranslationServiceError,
                                 gave_up="the step will be retried, finished segments are cached",
                                 who="engine openai")
        self.url = self.client.url
        self.batch_size = cfg.batch_size
        self.usage = self.client.usage  # requests, prompt_tokens, completion_tokens

    def _one(self, text: str, src: str, tgt: str, attempt: int) -> str:
        message = {"role": "user", "content": render_prompt(self.cfg.prompt_template, text, src, tgt)}
        return self.client.complete([message], max_tokens=self.cfg.max_new_tokens,
                                    temperature=0.0 if attempt == 0 else RETRY_TEMPERATURE,
                                    seed=attempt or None)

    def translate(self, texts: list[str], *, src: str, tgt: str, attempt: int = 0) -> list[str]:
        if not texts:
            return []
        with ThreadPoolExecutor(max_workers=min(self.batch_size, len(texts))) as pool:
            return list(pool.map(lambda t: self._one(t, src, tgt, attempt), texts))

    def close(self) -> None:
        pass
