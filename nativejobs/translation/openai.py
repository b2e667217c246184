"""``openai``: any OpenAI-compatible chat endpoint (a vLLM server, llama.cpp's, a hosted model).

Each segment is one ``POST {endpoint}/chat/completions`` with the paper's prompt as the user
message; ``batch_size`` requests run at once. Attempt 0 is greedy (temperature 0); a retry
samples at temperature 0.7 with the attempt as seed. 429 and 5xx are retried with backoff.
The key, if the server wants one, comes from the environment variable the spec names.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from nativejobs.errors import StepInputError
from nativejobs.translation._http import Retry, post_json
from nativejobs.translation.base import RETRY_TEMPERATURE, TranslationServiceError, render_prompt
from nativejobs.translation.config import EngineConfig

__all__ = ["OpenAITranslator"]



class OpenAITranslator:
    def __init__(self, cfg: EngineConfig, *, retry: Retry | None = None) -> None:
        assert cfg.endpoint and cfg.model  # the spec requires both for this kind
        self.cfg = cfg
        self.url = cfg.endpoint.rstrip("/") + "/chat/completions"
        self.headers: dict[str, str] = {}
        if cfg.api_key_env:
            key = os.environ.get(cfg.api_key_env, "")
            if not key:
                raise StepInputError(f"engine openai: the environment variable {cfg.api_key_env} "
                                     "is not set; put the API key there or drop api_key_env")
            self.headers["Authorization"] = f"Bearer {key}"
        self.batch_size = cfg.batch_size
        self.retry = retry or Retry()
        self.usage = {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0}

    def _one(self, text: str, src: str, tgt: str, attempt: int) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {
            "model": self.cfg.model, "max_tokens": self.cfg.max_new_tokens,
            "messages": [{"role": "user",
                          "content": render_prompt(self.cfg.prompt_template, text, src, tgt)}],
            "temperature": 0.0 if attempt == 0 else RETRY_TEMPERATURE}
        if attempt:
            body["seed"] = attempt
        answer = post_json(self.url, body, headers=self.headers, retry=self.retry)
        try:
            content = answer["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as e:
            raise TranslationServiceError(f"{self.url} answered without choices[0].message."
                                          f"content ({e!r})") from e
        return str(content or "").strip(), answer.get("usage") or {}

    def translate(self, texts: list[str], *, src: str, tgt: str, attempt: int = 0) -> list[str]:
        if not texts:
            return []
        with ThreadPoolExecutor(max_workers=min(self.batch_size, len(texts))) as pool:
            results = list(pool.map(lambda t: self._one(t, src, tgt, attempt), texts))
        for _, usage in results:
            self.usage["requests"] += 1
            for k in ("prompt_tokens", "completion_tokens"):
                self.usage[k] += int(usage.get(k) or 0)
        return [text for text, _ in results]

    def close(self) -> None:
        pass
