"""Kubernetes API errors map to typed exceptions at one point (``from_api``), as kr8s does."""

from __future__ import annotations

import json

import pytest
from kubernetes.client.exceptions import ApiException

from nativejobs.errors import BackendError
from nativejobs.k8s.client import KubeClient
from nativejobs.k8s.errors import (
    ClusterError,
    ConflictError,
    ForbiddenError,
    GoneError,
    NotFoundError,
    from_api,
)


def api_error(status: int, message: str = "boom") -> ApiException:
    e = ApiException(status=status, reason="Reason")
    e.body = json.dumps({"kind": "Status", "message": message})
    return e


@pytest.mark.parametrize(("status", "cls"), [
    pytest.param(404, NotFoundError, id="404-not-found"),
    pytest.param(409, ConflictError, id="409-conflict"),
    pytest.param(410, GoneError, id="410-gone"),
    pytest.param(403, ForbiddenError, id="403-forbidden"),
    pytest.param(401, ForbiddenError, id="401-unauthorized"),
    pytest.param(422, ClusterError, id="422-other"),
])
def test_an_api_status_maps_to_its_typed_error(status: int, cls: type[ClusterError]) -> None:
    error = from_api(api_error(status, "jobs.batch \"x\" is bad"), "creating Job x")
    assert type(error) is cls and isinstance(error, BackendError)
    assert error.status == status
    assert str(error) == f"creating Job x failed: {status} Reason: jobs.batch \"x\" is bad"


def test_the_client_raises_the_mapped_error_from_the_api_exception() -> None:
    kube = KubeClient.__new__(KubeClient)  # no cluster: only call() is exercised
    kube.max_tries, kube._sleep = 3, lambda s: None

    def read() -> None:
        raise api_error(404)

    with pytest.raises(NotFoundError, match="reading ConfigMap c failed: 404") as raised:
        kube.call(read, what="reading ConfigMap c")
    assert isinstance(raised.value.__cause__, ApiException)
