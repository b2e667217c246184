"""Kubernetes API errors, mapped at one point (``from_api``), as kr8s maps HTTP errors.

BackendError (nativejobs.errors)
└── ClusterError            the API server refused a call, or never answered
    ├── NotFoundError       404: the object does not exist
    ├── ConflictError       409: it exists already (a repeated create of a deterministic name)
    ├── GoneError           410: a watch's resourceVersion is too old; list again
    ├── ForbiddenError      401/403: our credentials or RBAC do not allow the call
    └── UnreachableError    no answer: the API server is down or restarting

Only ``nativejobs.k8s.client`` calls ``from_api``; everything else catches these classes.
"""

from __future__ import annotations

import json

from nativejobs.errors import BackendError, short_text

__all__ = ["ClusterError", "ConflictError", "ForbiddenError", "GoneError", "NotFoundError",
           "UnreachableError", "api_message", "from_api"]


class ClusterError(BackendError):
    """When the Kubernetes API refused a call; ``status`` is its HTTP status (None: no answer),
    ``reply`` the API server's own message."""

    def __init__(self, message: str, *, status: int | None = None, reply: str = "") -> None:
        super().__init__(message)
        self.status, self.reply = status, reply or message


class NotFoundError(ClusterError):
    """When the object a call names does not exist (404)."""


class ConflictError(ClusterError):
    """When a created object exists already (409)."""


class GoneError(ClusterError):
    """When a watch's resourceVersion is too old to resume from (410)."""


class ForbiddenError(ClusterError):
    """When the credentials or RBAC do not allow the call (401, 403)."""


class UnreachableError(ClusterError):
    """When the API server does not answer; set KUBECONFIG or check the cluster is up."""


_BY_STATUS: dict[int, type[ClusterError]] = {401: ForbiddenError, 403: ForbiddenError,
                                             404: NotFoundError, 409: ConflictError, 410: GoneError}


def api_message(e: Exception) -> str:
    """The API server's own message in an ApiException's body, else the exception's text."""
    body = getattr(e, "body", None)
    try:
        return str(json.loads(body)["message"]) if body else str(e)
    except (ValueError, KeyError, TypeError):
        return short_text(str(body), 300)


def from_api(e: Exception, what: str) -> ClusterError:
    """The typed error for ApiException ``e`` of call ``what`` (raise it ``from e``)."""
    status = getattr(e, "status", None)
    cls = _BY_STATUS.get(status, ClusterError) if isinstance(status, int) else ClusterError
    reply = api_message(e)
    return cls(f"{what} failed: {status} {getattr(e, 'reason', '')}: {reply}", status=status, reply=reply)
