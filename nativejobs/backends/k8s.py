"""The Kubernetes backend: one batch/v1 Job per step attempt, watched, never polled Job by Job.

Jobs and their pods are mirrored by two list+watch caches (re-listed on 410 Gone), so a
reconcile pass costs no API call. Every call is retried on 429 and 5xx with backoff, honouring
Retry-After. A Job is one attempt: the orchestrator keeps retry budgets in the store and creates
attempt N+1 as a new Job; preemption is absorbed inside the Job (podFailurePolicy ignores
DisruptionTarget), exit code 3 fails it at once.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as kubeconfig
from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines
from urllib3.exceptions import HTTPError

from nativejobs.backends.k8s_status import explain_pending, job_observation
from nativejobs.errors import NativeJobsError
from nativejobs.k8s.config import ClusterConfig
from nativejobs.k8s.render import LABEL_ATTEMPT, LABEL_STEP, render_job, selector
from nativejobs.orchestrate import Observation
from nativejobs.plan import Step

__all__ = ["KubeClient", "KubernetesBackend", "api_client", "call_with_retries", "delete_jobs",
           "pod_log", "retry_delay"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
_RETRIED = {429, 500, 502, 503, 504}
_JOB_NAME_LABEL = "batch.kubernetes.io/job-name"


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

    Raises: the last ApiException; NativeJobsError when the API server stays unreachable.
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
                raise NativeJobsError(f"Kubernetes API unreachable: {e}") from e
            delay = retry_delay(None, None, tries) or 0.0
        log.debug("retrying %s in %.1fs", getattr(fn, "__name__", fn), delay)
        sleep(delay)
    raise AssertionError("unreachable")


class KubeClient:
    """The API calls the backend makes, in one namespace, each retried by ``retry_delay``."""

    def __init__(self, namespace: str, *, kubeconfig_path: Path | None = None, max_tries: int = 8,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.namespace, self.max_tries, self._sleep = namespace, max_tries, sleep
        self.api = _api_client(kubeconfig_path)
        self.batch = k8s.BatchV1Api(self.api)
        self.core = k8s.CoreV1Api(self.api)

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return call_with_retries(fn, *args, max_tries=self.max_tries, sleep=self._sleep, **kwargs)

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
        raise NativeJobsError(f"no Kubernetes access: {e}; set KUBECONFIG or pass --kubeconfig") from e


class _Mirror:
    """A list+watch cache of one resource type under a label selector (an informer, small)."""

    def __init__(self, kube: KubeClient, list_fn: Callable[..., Any], label_selector: str) -> None:
        self.kube, self.list_fn, self.selector = kube, list_fn, label_selector
        self.items: dict[str, Obj] = {}
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
            self.items[obj["metadata"]["name"]] = _slim(obj)

    def snapshot(self) -> list[Obj]:
        with self.lock:
            return list(self.items.values())

    def _relist(self) -> None:
        resp = self.kube.call(self.list_fn, self.kube.namespace, label_selector=self.selector,
                              _preload_content=False)
        doc = json.loads(resp.data)
        with self.lock:
            self.items = {o["metadata"]["name"]: _slim(o) for o in doc.get("items") or []}
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
        with self.lock:
            if event["type"] == "DELETED":
                self.items.pop(obj["metadata"]["name"], None)
            else:
                self.items[obj["metadata"]["name"]] = _slim(obj)


def _slim(obj: Obj) -> Obj:
    """``obj`` without its managedFields: ~45% of a Job's or pod's JSON, never read here, and
    the mirrors hold every Job and pod of the namespace (bench/scale.py)."""
    obj["metadata"].pop("managedFields", None)
    return obj


@dataclass
class _Current:
    """The newest Job of one step, with its pods."""

    job: Obj
    pods: list[Obj]

    @property
    def attempt(self) -> int:
        return int(self.job["metadata"]["labels"].get(LABEL_ATTEMPT, "0"))


class KubernetesBackend:
    """Runs each step attempt as a Job in ``config.namespace``."""

    outlives_controller = True  # Jobs keep running when the controller stops

    def __init__(self, kube: KubeClient, experiment: str, config: ClusterConfig) -> None:
        self.kube, self.experiment, self.config = kube, experiment, config
        # Every nativejobs Job of the namespace, not only this experiment's: a step another
        # experiment is already running (same key, same Job name) is waited for, not redone.
        label_selector = selector()
        self.jobs = _Mirror(kube, kube.batch.list_namespaced_job, label_selector)
        self.pods = _Mirror(kube, kube.core.list_namespaced_pod, label_selector)
        self._released: set[str] = set()  # Job names whose end the orchestrator has recorded
        self._observed: dict[str, _Current] = {}  # the last observe()'s steps, for release()
        self.pending: dict[str, str] = {}  # step key -> why it is not running yet
        self.jobs.start()
        self.pods.start()

    def close(self) -> None:
        self.jobs.stop()
        self.pods.stop()

    # -- the Backend protocol ---------------------------------------------------------------
    def launch(self, step: Step, *, store_uri: str, attempt: int) -> None:
        body = render_job(step, self.config, experiment=self.experiment, store_uri=store_uri,
                          attempt=attempt)
        try:  # the reply as plain JSON: the typed model costs more than the request itself
            created = json.loads(self.kube.call(self.kube.batch.create_namespaced_job,
                                                self.kube.namespace, body, _preload_content=False).data)
        except ApiException as e:
            if e.status != 409:
                raise NativeJobsError(f"creating Job {body['metadata']['name']} failed: "
                                      f"{e.status} {e.reason}: {_message(e)}") from e
            created = self._adopt(body, step)
        self.jobs.put(created)

    def observe(self) -> dict[str, Observation]:
        out: dict[str, Observation] = {}
        pending: dict[str, str] = {}
        current = self._observed = self._current()
        no_pods = [c for c in current.values() if not c.pods]
        events = self._failed_creates() if no_pods else []
        for key, cur in current.items():
            obs = job_observation(key, cur.job, cur.pods)
            out[key] = Observation(key, obs.phase, obs.exit_code, obs.reason, attempt=cur.attempt)
            if obs.phase == "running":
                name = cur.job["metadata"]["name"]
                mine = [e for e in events if e.get("involvedObject", {}).get("name") == name]
                if why := explain_pending(cur.job, cur.pods, mine):
                    pending[key] = why
        self.pending = pending
        return out

    def release(self, key: str) -> str | None:
        """A succeeded step stored its own log; a failed one may have died before it could, so
        its pod's log is fetched (once, briefly: a slow kubelet must not stall the controller).
        The step is looked up in the last observe()'s listing (the one the orchestrator
        recorded from): rebuilding it per released step made a pass O(steps²)."""
        cur = self._observed.get(key) or self._current().get(key)
        if cur is None:
            return None
        self._released.add(cur.job["metadata"]["name"])
        return None if job_observation(key, cur.job, cur.pods).phase == "succeeded" else self._logs(cur)

    def cancel_all(self) -> None:
        delete_jobs(self.kube, self.experiment)

    # -- helpers -----------------------------------------------------------------------------
    def _current(self) -> dict[str, _Current]:
        """The newest not-yet-recorded Job of every step, by step key."""
        pods_by_job: dict[str, list[Obj]] = {}
        for pod in self.pods.snapshot():
            job = pod["metadata"].get("labels", {}).get(_JOB_NAME_LABEL)
            pods_by_job.setdefault(job or "", []).append(pod)
        out: dict[str, _Current] = {}
        for job in self.jobs.snapshot():
            name = job["metadata"]["name"]
            key = job["metadata"].get("labels", {}).get(LABEL_STEP)
            if not key or name in self._released:
                continue
            cur = _Current(job, pods_by_job.get(name, []))
            if key not in out or cur.attempt > out[key].attempt:
                out[key] = cur
        return out

    def _adopt(self, body: Obj, step: Step) -> Obj:
        """409: the Job exists. Ours (same step key) means an earlier controller submitted it."""
        name = body["metadata"]["name"]
        existing = self.kube.plain(self.kube.call(
            self.kube.batch.read_namespaced_job, name, self.kube.namespace))
        if existing["metadata"].get("labels", {}).get(LABEL_STEP) != step.key:
            raise NativeJobsError(f"Job {name} exists in {self.kube.namespace} for another step "
                                  f"than {step.ref}; delete it or use another namespace")
        log.info("Job %s already submitted; adopting it", name)
        return existing

    def _failed_creates(self) -> list[Obj]:
        resp = self.kube.call(self.kube.core.list_namespaced_event, self.kube.namespace,
                              field_selector="reason=FailedCreate,involvedObject.kind=Job")
        return [self.kube.plain(e) for e in resp.items]

    def _logs(self, cur: _Current) -> str:
        if not cur.pods:
            return "(the Job ended without a pod; see its events)\n"
        pod = max(cur.pods, key=lambda p: p["metadata"].get("creationTimestamp") or "")
        try:
            return str(self.kube.core.read_namespaced_pod_log(
                pod["metadata"]["name"], self.kube.namespace, container="step", _request_timeout=(3, 10)))
        except (ApiException, HTTPError) as e:
            return f"(no log from pod {pod['metadata']['name']}: {_message(e)})\n"


def delete_jobs(kube: KubeClient, experiment: str) -> None:
    """Delete every Job of the experiment; Foreground so their pods go first."""
    kube.call(kube.batch.delete_collection_namespaced_job, kube.namespace,
              label_selector=selector(experiment), propagation_policy="Foreground")


def pod_log(kube: KubeClient, step_key: str) -> str | None:
    """The log of the newest pod of a step (its running attempt), or None if it has no pod."""
    pods = kube.call(kube.core.list_namespaced_pod, kube.namespace,
                     label_selector=f"{LABEL_STEP}={step_key}").items
    if not pods:
        return None
    newest = max(pods, key=lambda p: p.metadata.creation_timestamp).metadata.name
    try:  # once: a kubelet that cannot serve the log will not serve it on a retry either
        return str(kube.core.read_namespaced_pod_log(newest, kube.namespace, container="step",
                                                     _request_timeout=(3, 30)))
    except (ApiException, HTTPError) as e:
        raise NativeJobsError(f"the cluster could not serve the log of pod {newest}: "
                              f"{_message(e)[:200]}") from e


def _message(e: Exception) -> str:
    body = getattr(e, "body", None)
    try:
        return str(json.loads(body)["message"]) if body else str(e)
    except (ValueError, KeyError, TypeError):
        return str(body)[:300]
