"""A client of any OpenAI-compatible chat endpoint (vLLM's server, llama.cpp's, a hosted model).

One ``complete`` call is one ``POST {base_url}/chat/completions``; 429 and 5xx answers are
retried with backoff and ``Retry-After`` is honoured (``engines._http``). The API key, if the
server wants one, is read from the environment variable the spec names and sent only in the
``Authorization`` header. Used by the ``openai`` translation engine and the HTTP judge.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from nativejobs.engines._http import Retry, ServiceError, post_json
from nativejobs.errors import NativeJobsError, StepInputError

__all__ = ["Message", "OpenAIChat"]

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": ...}


class OpenAIChat:
    """Chat completions from one served model, with token usage counted across threads.

    Args:
        base_url: The API root, e.g. ``http://host:8000/v1``.
        model: The served model name.
        api_key_env: Name of the environment variable holding the key; None sends none.
        retry: Backoff for 429/5xx/timeouts.
        error: What to raise when every attempt failed (a caller's retryable error).
        gave_up: The end of that error's message: what a retry of the step keeps.
        who: Names the caller in a bad-configuration message (``engine openai``, ``judge gpt4``).

    Raises:
        StepInputError: If ``api_key_env`` names an unset variable.
    """

    def __init__(self, base_url: str, model: str, *, api_key_env: str | None = None,
                 retry: Retry | None = None, error: type[NativeJobsError] = ServiceError,
                 gave_up: str = "the step will be retried", who: str = "openai") -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.headers: dict[str, str] = {}
        if api_key_env:
            key = os.environ.get(api_key_env, "")
            if not key:
                raise StepInputError(f"{who}: the environment variable {api_key_env} is not "
                                     "set; put the API key there or drop api_key_env")
            self.headers["Authorization"] = f"Bearer {key}"
        self.retry = retry or Retry()
        self.error, self.gave_up = error, gave_up
        self.usage = {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0}
        self._lock = threading.Lock()

    def complete(self, messages: list[Message], *, max_tokens: int, temperature: float = 0.0,
                 seed: int | None = None, extra: dict[str, Any] | None = None) -> str:
        """The assistant's reply to ``messages`` (stripped; "" for an empty reply).

        ``extra`` holds server-specific request fields (llama.cpp's ``grammar``, vLLM's
        ``guided_regex``); the standard fields above win over it.

        Raises:
            StepInputError: On an answer retrying cannot fix (bad key, unknown model).
            error: When every attempt failed, or the answer has no ``choices[0].message``.
        """
        body: dict[str, Any] = {**(extra or {}), "model": self.model, "messages": messages,
                                "max_tokens": max_tokens, "temperature": temperature}
        if seed is not None:
            body["seed"] = seed
        answer = post_json(self.url, body, headers=self.headers, retry=self.retry,
                           error=self.error, gave_up=self.gave_up)
        try:
            content = answer["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as e:
            raise self.error(f"{self.url} answered without choices[0].message.content "
                             f"({e!r})") from e
        usage = answer.get("usage") or {}
        with self._lock:
            self.usage["requests"] += 1
            for k in ("prompt_tokens", "completion_tokens"):
                self.usage[k] += int(usage.get(k) or 0)
        return str(content or "").strip()
