"""JSON over HTTP for remote model services, with retries: 429 and 5xx back off with jitter.

Shared by the service translation engines (Google v2, OpenAI-compatible) and the HTTP judge.
Standard library only (``urllib``): a job needs no HTTP client package. A URL is never logged
or put in an error with its query string, which may hold an API key.
"""

from __future__ import annotations

import json
import logging
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from nativejobs.errors import NativeJobsError, StepInputError

__all__ = ["Retry", "ServiceError", "post_json"]

log = logging.getLogger(__name__)


class ServiceError(NativeJobsError):
    """When a remote model service keeps failing (429, 5xx, timeouts) after every retry.

    Retryable: the step exits 1 and the orchestrator tries again later.
    """


@dataclass
class Retry:
    """Backoff for retryable answers: ``base_s * 2**n`` capped at ``max_s``, times a jitter in
    [0.5, 1] (so parallel workers do not retry in step); a ``Retry-After`` header wins."""

    attempts: int = 8
    base_s: float = 1.0
    max_s: float = 60.0
    timeout_s: float = 300.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, n: int, retry_after: str | None) -> float:
        if retry_after and retry_after.strip().isdigit():
            return min(float(retry_after), self.max_s)
        return min(self.max_s, self.base_s * 2**n) * self.rng.uniform(0.5, 1.0)


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _is_retryable(status: int, body: str) -> bool:
    # Google answers a per-minute quota with 403 "User Rate Limit Exceeded" (its quotas page).
    return status == 429 or status >= 500 or (status == 403 and "ateLimitExceeded" in body)


def post_json(url: str, body: dict[str, Any], *, headers: dict[str, str] | None = None,
              retry: Retry | None = None, error: type[NativeJobsError] = ServiceError,
              gave_up: str = "the step will be retried") -> Any:
    """POST ``body`` as JSON and return the decoded JSON answer.

    Args:
        error: What to raise when every attempt failed (a service's own retryable error).
        gave_up: The end of that error's message: what happens next.

    Raises:
        StepInputError: On an answer that retrying cannot fix (400, 401, 403, 404).
        error: When every attempt met 429, 5xx, a timeout or no connection.
    """
    retry = retry or Retry()
    data = json.dumps(body, ensure_ascii=False).encode()
    hdrs = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    last = ""
    for n in range(retry.attempts):
        request = urllib.request.Request(url, data=data, headers=hdrs, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=retry.timeout_s) as answer:
                return json.loads(answer.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            text = e.read().decode("utf-8", "replace")[:500]
            if not _is_retryable(e.code, text):
                raise StepInputError(f"{_where(url)} answered {e.code}: {text}; check the "
                                     "endpoint, model and API key") from e
            last, wait = f"HTTP {e.code}", retry.delay(n, e.headers.get("Retry-After"))
        except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
            last, wait = f"{type(e).__name__}: {getattr(e, 'reason', e)}", retry.delay(n, None)
        except json.JSONDecodeError as e:
            last, wait = f"an answer that is not JSON ({e.msg})", retry.delay(n, None)
        if n + 1 < retry.attempts:
            log.warning("%s: %s; retrying in %.1fs (%d/%d)", _where(url), last, wait, n + 1,
                        retry.attempts - 1)
            retry.sleep(wait)
    raise error(f"{_where(url)} failed {retry.attempts} times (last: {last}); {gave_up}")
