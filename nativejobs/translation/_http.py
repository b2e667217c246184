"""JSON over HTTP for the service engines: ``nativejobs.engines._http`` with the translation
error (``TranslationServiceError``) and what a retry keeps (the per-segment cache)."""

from __future__ import annotations

from typing import Any

from nativejobs.engines._http import Retry
from nativejobs.engines._http import post_json as _post_json
from nativejobs.translation.base import TranslationServiceError

__all__ = ["Retry", "post_json"]


def post_json(url: str, body: dict[str, Any], *, headers: dict[str, str] | None = None,
              retry: Retry | None = None) -> Any:
    """``engines._http.post_json`` raising TranslationServiceError when every attempt failed.

    Raises:
        StepInputError: On an answer that retrying cannot fix (400, 401, 403, 404).
        TranslationServiceError: When every attempt met 429, 5xx, a timeout or no connection.
    """
    return _post_json(url, body, headers=headers, retry=retry, error=TranslationServiceError,
                      gave_up="the step will be retried, finished segments are cached")
