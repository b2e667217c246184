"""The Kubernetes API as the controller uses it: one client, calls retried on 429 and 5xx with
backoff (honouring Retry-After), errors mapped to ``nativejobs.k8s.errors`` in ``KubeClient.call``,
and ``Mirror``, a list+watch cache of one resource type (re-listed on 410 Gone).
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as kubeconfig
from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines
from urllib3.exceptions import HTTPError

from nativejobs.k8s.errors import ClusterError, UnreachableError, from_api

__all__ = ["KubeClient", "Mirror", "Obj", "api_client", "call_mapped", "call_with_retries", "retry_delay"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
_RETRIED = {429, 500, 502, 503, 504}


def retry_delay(status: int | None, headers: Mapping[str, str] | None, tries: int,
                *, base_s: float = 0.5, cap_s: float = 30.0) -> float | None:
    """Seconds to wait before try ``tries + 1`` of a failed call, or None to give up at once.

    429 and 5xx (and connection errors, ``status`` None) are retried; Retry-After wins when
    the server sends it; otherwise exponential backoff with full jitter.
    """
    if status is not None and status not in _RETRIED:
        return None
    after = (headers or {}).get("Retry-After")
    if after and after.isdigit():
        return min(float(after), cap_s)
    return random.uniform(0, min(cap_s, base_s * 2 ** tries))


def call_with_retries(fn: Callable[..., Any], *args: Any, max_tries: int,
                      sleep: Callable[[float], None], **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, tried again after ``retry_delay`` on 429, 5xx and lost connections.

    Raises: the last ApiException (``KubeClient.call`` maps it); UnreachableError when the API
    server stays unreachable.
    """
    for tries in range(max_tries):
        try:
            return fn(*args, **kwargs)
        except ApiException as e:
            delay = retry_delay(e.status, e.headers, tries)
            if delay is None or tries == max_tries - 1:
                raise
        except HTTPError as e:  # connection refused/reset: the API server is restarting
            if tries == max_tries - 1:
                raise UnreachableError(f"Kubernetes API unreachable: {e}") from e
            delay = retry_delay(None, None, tries) or 0.0
        log.debug("retrying %s in %.1fs", getattr(fn, "__name__", fn), delay)
        sleep(delay)
    raise AssertionError("unreachable")


def call_mapped(fn: Callable[..., Any], *args: Any, what: str = "", max_tries: int = 1,
                sleep: Callable[[float], None] = time.sleep, **kwargs: Any) -> Any:
    """``call_with_retries`` with its ApiException mapped: the one place that maps them.

    Raises: the ClusterError subclass of the last ApiException (``from_api``); UnreachableError
    if the API server never answered.
    """
    try:
        return call_with_retries(fn, *args, max_tries=max_tries, sleep=sleep, **kwargs)
    except ApiException as e:
        raise from_api(e, what or getattr(fn, "__name__", "a Kubernetes API call")) from e


class KubeClient:
    """The API calls the backend makes, in one namespace, each retried by ``retry_delay``."""

    def __init__(self, namespace: str, *, kubeconfig_path: Path | None = None, max_tries: int = 8,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.namespace, self.max_tries, self._sleep = namespace, max_tries, sleep
        self.api = _api_client(kubeconfig_path)
        self.batch = k8s.BatchV1Api(self.api)
        self.core = k8s.CoreV1Api(self.api)

    def call(self, fn: Callable[..., Any], *args: Any, what: str = "", tries: int | None = None,
             **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` retried up to ``tries`` (default ``max_tries``) times.

        Raises: the ClusterError subclass of its last ApiException (``from_api``), the one place
        API errors are mapped; UnreachableError if the API server never answered.
        """
        return call_mapped(fn, *args, what=what, max_tries=tries or self.max_tries,
                           sleep=self._sleep, **kwargs)

    def plain(self, obj: Any) -> Obj:
        """An API model object as the camelCase dict the API server speaks."""
        return self.api.sanitize_for_serialization(obj)


def api_client(path: Path | None) -> k8s.ApiClient:
    """A client for kubeconfig ``path``; without one, the pod's ServiceAccount, else $KUBECONFIG.

    Raises: ConfigException or OSError if there are no usable credentials.
    """
    if path is None:
        try:
            conf = k8s.Configuration()
            kubeconfig.load_incluster_config(client_configuration=conf)
            return k8s.ApiClient(conf)
        except kubeconfig.ConfigException:
            pass
    # $KUBECONFIG read now: the client's own default was fixed when it was imported.
    found = str(path) if path else os.environ.get("KUBECONFIG") or None
    return kubeconfig.new_client_from_config(config_file=found)


def _api_client(path: Path | None) -> k8s.ApiClient:
    try:
        return api_client(path)
    except (kubeconfig.ConfigException, OSError) as e:
        raise ClusterError(f"no Kubernetes access: {e}; set KUBECONFIG or pass --kubeconfig") from e


class Mirror:
    """A list+watch cache of one resource type under a label selector (an informer, small)."""

    def __init__(self, kube: KubeClient, list_fn: Callable[..., Any], label_selector: str, *,
                 keep: Callable[[Obj], Obj] = lambda obj: obj) -> None:
        """``keep`` projects each object on what the reader needs: the mirror holds every one."""
        self.kube, self.list_fn, self.selector, self.keep = kube, list_fn, label_selector, keep
        self.items: dict[str, Obj] = {}
        self._forgotten: set[str] = set()  # names whose later events are ignored (``forget``)
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._version = ""
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._relist()
        self.start_watching()

    def start_watching(self) -> None:
        self._thread = threading.Thread(target=self._watch_forever, daemon=True,
                                        name=f"watch-{self.list_fn.__name__}")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def put(self, obj: Obj) -> None:
        """An object this process just wrote: visible before its watch event arrives."""
        with self.lock:
            self.items[obj["metadata"]["name"]] = self.keep(obj)

    def forget(self, names: Iterable[str]) -> None:
        """Drop objects the reader is done with, and ignore their later events: a pass then
        costs what is still live, not every object the run ever made."""
        with self.lock:
            for name in names:
                self.items.pop(name, None)
                self._forgotten.add(name)

    def snapshot(self) -> list[Obj]:
        with self.lock:
            return list(self.items.values())

    def _relist(self) -> None:
        resp = self.kube.call(self.list_fn, self.kube.namespace, label_selector=self.selector,
                              _preload_content=False)
        doc = json.loads(resp.data)
        listed = {o["metadata"]["name"]: o for o in doc.get("items") or []}
        with self.lock:
            self._forgotten &= listed.keys()  # one deleted while no watch ran will not come back
            self.items = {name: self.keep(o) for name, o in listed.items() if name not in self._forgotten}
        self._version = doc["metadata"]["resourceVersion"]

    def _watch_forever(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._watch_once()
                failures = 0
            except ApiException as e:
                if e.status == 410:  # our resourceVersion is too old: start from a fresh list
                    log.debug("watch %s expired; re-listing", self.list_fn.__name__)
                else:
                    failures += 1
                    self._stop.wait(retry_delay(None, None, failures) or 1.0)
                self._relist_quietly()
            except Exception as e:  # the connection dropped: list again, then watch again
                failures += 1
                log.debug("watch %s broke (%s); re-listing", self.list_fn.__name__, e)
                self._stop.wait(retry_delay(None, None, failures) or 1.0)
                self._relist_quietly()

    def _relist_quietly(self) -> None:
        try:
            self._relist()
        except Exception as e:
            log.debug("re-list failed: %s", e)

    def _watch_once(self) -> None:
        """One watch request, its events read as plain JSON: the typed client's models cost
        ~10 ms an event (kubernetes 37), which made the watch threads the controller's
        bottleneck at a few hundred steps (bench/scale.py)."""
        resp = self.list_fn(self.kube.namespace, label_selector=self.selector, watch=True,
                            resource_version=self._version, timeout_seconds=60,
                            allow_watch_bookmarks=True, _preload_content=False)
        try:
            for line in iter_resp_lines(resp):
                if self._stop.is_set():
                    return
                if line:
                    self._apply(json.loads(line))
        finally:
            resp.close()
            resp.release_conn()

    def _apply(self, event: Obj) -> None:
        obj: Obj = event["object"]
        if event["type"] == "ERROR":  # a Status; 410 Gone: our version is too old
            raise ApiException(status=obj.get("code"), reason=str(obj.get("message", "")))
        self._version = obj["metadata"].get("resourceVersion") or self._version
        if event["type"] == "BOOKMARK":
            return
        name = obj["metadata"]["name"]
        with self.lock:
            if event["type"] == "DELETED":
                self.items.pop(name, None)
                self._forgotten.discard(name)  # gone for good: no event will name it again
            elif name not in self._forgotten:
                self.items[name] = self.keep(obj)

