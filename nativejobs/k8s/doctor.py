"""Check a cluster install: the store round-trips an object and RBAC is what the chart grants.

``doctor(config, store_uri)`` is what ``nativejobs doctor --cluster-config FILE`` runs, and what
the Helm chart's ``helm test`` pod runs under the controller's ServiceAccount. It returns one
:class:`Check` per thing it looked at and never raises for a broken cluster or store: a failed
check says what is wrong and what to fix. ``nativejobs doctor`` exits 0 when every check is ok
and 1 otherwise.

The checks, in order:

- ``store: round trip``: put a small object under ``_doctor/`` in the run store, read it back,
  compare, delete it and check that it is gone;
- ``kube: identity``: who the API server says we are (SelfSubjectReview);
- ``rbac: can VERB RESOURCE``, one per grant in :data:`CONTROLLER_ACCESS` (the chart's Role),
  each asked with a SelfSubjectAccessReview in ``config.namespace``;
- ``rbac: cannot VERB secrets``, one per entry of :data:`FORBIDDEN_ACCESS`: the controller must
  not read Secrets (they reach step pods only through ``secretKeyRef``). These are checked
  only when running as the controller's ServiceAccount; any other identity (a cluster admin
  running ``nativejobs doctor`` from a laptop) gets them reported as not checked.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nativejobs.errors import NativeJobsError
from nativejobs.k8s.config import DEFAULT_RELEASE, ClusterConfig, config_map_name
from nativejobs.k8s.errors import ClusterError, UnreachableError
from nativejobs.store import open_store

__all__ = ["CONTROLLER_ACCESS", "FORBIDDEN_ACCESS", "Access", "Check", "doctor"]

log = logging.getLogger(__name__)

# The ConfigMap the Helm chart installs (cluster.yaml); the controller may read only this one.
_PROBE_PREFIX = "_doctor"
_TIMEOUT_S = 15  # per API call: an unreachable server fails the check instead of hanging


@dataclass(frozen=True)
class Check:
    """One thing the doctor looked at: its name, whether it is fine, and what it found."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Access:
    """A verb on a resource, as a SelfSubjectAccessReview asks it (``name``: one object only)."""

    verb: str
    resource: str
    group: str = ""
    subresource: str = ""
    name: str = ""

    def __str__(self) -> str:
        what = f"{self.group}/{self.resource}" if self.group else self.resource
        if self.subresource:
            what += f"/{self.subresource}"
        return f"{self.verb} {what}" + (f" (name {self.name})" if self.name else "")


def _controller_access(config_map: str) -> tuple[Access, ...]:
    """What the controller does, one entry per verb; the chart's Role grants exactly these."""
    return (
        *(Access(verb, "jobs", group="batch")
          for verb in ("create", "get", "list", "watch", "delete", "deletecollection")),
        *(Access(verb, "pods") for verb in ("get", "list", "watch")),
        Access("get", "pods", subresource="log"),
        # Core events explain why a pod is pending (unschedulable, image pull, quota).
        Access("list", "events"),
        Access("watch", "events"),
        Access("get", "configmaps", name=config_map),
        Access("list", "resourcequotas"),
    )


CONTROLLER_ACCESS: tuple[Access, ...] = _controller_access(config_map_name())
FORBIDDEN_ACCESS: tuple[Access, ...] = tuple(Access(v, "secrets") for v in ("get", "list", "watch"))


def doctor(
    config: ClusterConfig,
    store_uri: str,
    *,
    kube: bool = True,
    kubeconfig: Path | None = None,
    release: str = DEFAULT_RELEASE,
) -> list[Check]:
    """Check the run store and, with ``kube``, the identity and RBAC in ``config.namespace``.

    Args:
        config: the cluster configuration (the chart's ``cluster.yaml``).
        store_uri: the run store, e.g. ``s3://nativejobs/runs``; credentials come from the
            standard ``AWS_*`` environment, the endpoint from ``config.store.endpoint_url``.
        kube: also ask the Kubernetes API (False: the store check only).
        kubeconfig: the kubeconfig to use; None: the pod's ServiceAccount when in a
            cluster, else ``$KUBECONFIG`` (else ``~/.kube/config``), current context.
        release: the chart's Helm release; its controller may read that release's ConfigMap.

    Returns:
        The checks in the order above; ``all(c.ok for c in checks)`` means the install works.
    """
    checks = [_check_store(store_uri, config.store.endpoint_url)]
    if not kube:
        return checks
    from kubernetes.config import ConfigException

    from nativejobs.k8s.client import api_client

    try:
        api = api_client(kubeconfig)
    except (ConfigException, OSError) as e:  # no kubeconfig and not in a pod: a finding
        return [*checks, Check("kube: identity", False, f"no Kubernetes credentials: {e}; set "
                               "KUBECONFIG or run inside the cluster")]
    with api:
        return checks + _check_kube(api, config, config_map_name(release))


def _check_kube(api: Any, config: ClusterConfig, config_map: str) -> list[Check]:
    """Identity, then one access review per granted and per forbidden verb."""
    identity = _check_identity(api)
    checks = [identity]
    if not identity.ok:  # the API is unreachable or refuses us: every review would fail alike
        return checks
    namespace = config.namespace
    controller = f"system:serviceaccount:{namespace}:{config.controller_service_account}"
    checks += [_check_access(api, namespace, a, want=True) for a in _controller_access(config_map)]
    for access in FORBIDDEN_ACCESS:
        if identity.detail == controller:
            checks.append(_check_access(api, namespace, access, want=False))
        else:
            checks.append(Check(f"rbac: cannot {access}", True, f"not checked: running as "
                                f"{identity.detail}, not {controller}; `helm test` checks it"))
    return checks


def _check_store(store_uri: str, endpoint_url: str | None) -> Check:
    """Put, get, compare and delete one small object under the store's ``_doctor/`` prefix."""
    name = "store: round trip"
    # A unique path: two doctors at once (or a leftover from a killed one) never collide.
    path = f"{_PROBE_PREFIX}/{uuid.uuid4().hex}.txt"
    text = f"nativejobs doctor probe {path}\n"
    try:
        store = open_store(store_uri, endpoint_url=endpoint_url)
        store.put_text(path, text)
        try:
            back = store.get_text(path)
        finally:
            store.delete(path)
        left = store.exists(path)
    except NativeJobsError as e:
        return Check(name, False, str(e))
    except OSError as e:  # a file:// store: the local filesystem's own errors
        return Check(name, False, f"{store_uri}: {e}")
    if back != text:
        return Check(name, False, f"{store_uri}/{path} read back {back!r}, wrote {text!r}; the store "
                     "does not return what was put")
    if left:
        return Check(name, False, f"{store_uri}/{path} still exists after delete; grant s3:DeleteObject")
    return Check(name, True, f"put, read back and deleted {path} in {store_uri}")


def _check_identity(api: Any) -> Check:
    """Ask the API server who we are (SelfSubjectReview needs no RBAC grant)."""
    from kubernetes import client
    from urllib3.exceptions import HTTPError

    from nativejobs.k8s.client import call_mapped

    try:
        review = call_mapped(
            client.AuthenticationV1Api(api).create_self_subject_review,
            client.V1SelfSubjectReview(api_version="authentication.k8s.io/v1", kind="SelfSubjectReview"),
            what="a SelfSubjectReview", _request_timeout=_TIMEOUT_S,
        )
    except UnreachableError as e:
        return Check("kube: identity", False, f"cannot reach the API server at "
                     f"{api.configuration.host}: {e}")
    except ClusterError as e:
        return Check("kube: identity", False, f"the API server refused it: {e}; check the credentials")
    except HTTPError as e:
        return Check("kube: identity", False, f"cannot reach the API server at "
                     f"{api.configuration.host}: {e}")
    return Check("kube: identity", True, review.status.user_info.username)


def _check_access(api: Any, namespace: str, access: Access, *, want: bool) -> Check:
    """One SelfSubjectAccessReview; ok when the answer is ``want``."""
    from kubernetes import client

    from nativejobs.k8s.client import call_mapped

    name = f"rbac: {'can' if want else 'cannot'} {access}"
    attrs = client.V1ResourceAttributes(
        namespace=namespace,
        verb=access.verb,
        group=access.group,
        resource=access.resource,
        subresource=access.subresource or None,
        name=access.name or None,
    )
    review = client.V1SelfSubjectAccessReview(
        api_version="authorization.k8s.io/v1",
        kind="SelfSubjectAccessReview",
        spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=attrs),
    )
    try:
        status = call_mapped(client.AuthorizationV1Api(api).create_self_subject_access_review,
                             review, what="the SelfSubjectAccessReview", _request_timeout=_TIMEOUT_S).status
    except ClusterError as e:
        return Check(name, False, str(e))
    allowed = bool(status.allowed)
    detail = f"{'allowed' if allowed else 'denied'} in namespace {namespace}"
    if allowed != want:
        fix = "grant it in the Role" if want else "remove it from every Role and ClusterRole bound"
        detail += f" ({status.reason or 'no reason given'}); {fix} (see charts/nativejobs)"
    log.debug("%s: %s", name, detail)
    return Check(name, allowed == want, detail)
