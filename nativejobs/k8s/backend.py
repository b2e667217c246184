"""The Kubernetes backend: one batch/v1 Job per step attempt, watched, never polled Job by Job.

Jobs and their pods are mirrored by two list+watch caches (``client.Mirror``), so a reconcile
pass costs no API call. A Job is one attempt: the orchestrator keeps retry budgets in the store
and creates attempt N+1 as a new Job; preemption is absorbed inside the Job (podFailurePolicy
ignores DisruptionTarget), exit code 3 fails it at once.

The cluster settings come from ``--cluster-config FILE`` if given, else from the ConfigMap the
Helm chart installs in the namespace (key ``cluster.yaml`` of ``config_map_name(release)``:
``nativejobs-config`` for the default release, ``lab-nativejobs-config`` for ``--release lab``),
so a laptop and the in-cluster driver run every Job with the same images, Secrets and node placement.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import yaml
from urllib3.exceptions import HTTPError

from nativejobs.errors import BackendError, SpecError, short_text
from nativejobs.k8s.client import KubeClient, Mirror, Obj
from nativejobs.k8s.config import (
    DEFAULT_RELEASE,
    ClusterConfig,
    config_map_name,
    load_cluster_config,
    parse_cluster_config,
)
from nativejobs.k8s.errors import ClusterError, ConflictError, NotFoundError, UnreachableError
from nativejobs.k8s.render import LABEL_ATTEMPT, LABEL_STEP, render_job, selector
from nativejobs.k8s.status import essentials, explain_pending, job_observation
from nativejobs.orchestrate import Observation
from nativejobs.plan import Step

__all__ = ["CONFIGMAP_KEY", "KubernetesBackend", "cluster_settings", "delete_jobs", "open_backend",
           "pod_log"]

log = logging.getLogger(__name__)

CONFIGMAP_KEY = "cluster.yaml"
_JOB_NAME_LABEL = "batch.kubernetes.io/job-name"


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
    # Job creates in flight at once: one at a time, a big plan starts at one API round trip a
    # Job (bench/scale.py); the API server's priority and fairness bounds what it accepts.
    launch_concurrency = 8

    def __init__(self, kube: KubeClient, experiment: str, config: ClusterConfig) -> None:
        self.kube, self.experiment, self.config = kube, experiment, config
        # Every nativejobs Job of the namespace, not only this experiment's: a step another
        # experiment is already running (same key, same Job name) is waited for, not redone.
        label_selector = selector()
        self.jobs = Mirror(kube, kube.batch.list_namespaced_job, label_selector, keep=essentials)
        self.pods = Mirror(kube, kube.core.list_namespaced_pod, label_selector, keep=essentials)
        self._observed: dict[str, _Current] = {}  # the last observe()'s steps, for release()
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
            created = json.loads(self.kube.call(
                self.kube.batch.create_namespaced_job, self.kube.namespace, body,
                what=f"creating Job {body['metadata']['name']}", _preload_content=False).data)
        except ConflictError:
            created = self._adopt(body, step)
        self.jobs.put(created)

    def observe(self) -> dict[str, Observation]:
        current = self._observed = self._current()
        out: dict[str, Observation] = {}
        for key, cur in current.items():
            obs = job_observation(key, cur.job, cur.pods)
            out[key] = Observation(key, obs.phase, obs.exit_code, obs.reason, attempt=cur.attempt)
        return out

    @property
    def pending(self) -> dict[str, str]:
        """Step key -> why its Job is not running yet ("" steps left out), from the last
        observe()'s listing. Worked out when asked (the controller publishes it every few
        seconds), not every pass: on a big plan it was a quarter of a pass."""
        waiting = {key: cur for key, cur in self._observed.items()
                   if job_observation(key, cur.job, cur.pods).phase == "running"}
        events = self._failed_creates() if any(not cur.pods for cur in waiting.values()) else []
        by_job: dict[str, list[Obj]] = {}
        for event in events:
            by_job.setdefault(event.get("involvedObject", {}).get("name", ""), []).append(event)
        return {key: why for key, cur in waiting.items()
                if (why := explain_pending(cur.job, cur.pods, by_job.get(cur.job["metadata"]["name"], [])))}

    def release(self, key: str) -> str | None:
        """A succeeded step stored its own log; a failed one may have died before it could, so
        its pod's log is fetched (once, briefly: a slow kubelet must not stall the controller).
        The step is looked up in the last observe()'s listing (the one the orchestrator
        recorded from): rebuilding it per released step made a pass O(steps²)."""
        cur = self._observed.get(key) or self._current().get(key)
        if cur is None:
            return None
        log_text = None if job_observation(key, cur.job, cur.pods).phase == "succeeded" else self._logs(cur)
        # Its end is recorded: the Job and its pods leave the mirrors, so no pass looks at them again.
        self.jobs.forget([cur.job["metadata"]["name"]])
        self.pods.forget(p["metadata"]["name"] for p in cur.pods)
        return log_text

    def cancel_all(self) -> None:
        delete_jobs(self.kube, self.experiment)

    # -- helpers -----------------------------------------------------------------------------
    def _current(self) -> dict[str, _Current]:
        """The newest not-yet-recorded Job of every step, by step key (recorded ones are
        forgotten by the mirrors)."""
        pods_by_job: dict[str, list[Obj]] = {}
        for pod in self.pods.snapshot():
            job = pod["metadata"].get("labels", {}).get(_JOB_NAME_LABEL)
            pods_by_job.setdefault(job or "", []).append(pod)
        out: dict[str, _Current] = {}
        for job in self.jobs.snapshot():
            name = job["metadata"]["name"]
            key = job["metadata"].get("labels", {}).get(LABEL_STEP)
            if not key:
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
            raise BackendError(f"Job {name} exists in {self.kube.namespace} for another step "
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
        name = pod["metadata"]["name"]
        try:
            return str(self.kube.call(self.kube.core.read_namespaced_pod_log, name, self.kube.namespace,
                                      container="step", tries=1, what=f"the log of pod {name}",
                                      _request_timeout=(3, 10)))
        except ClusterError as e:
            return f"(no log from pod {name}: {e.reply})\n"
        except HTTPError as e:
            return f"(no log from pod {name}: {e})\n"


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
        return str(kube.call(kube.core.read_namespaced_pod_log, newest, kube.namespace, container="step",
                             tries=1, what=f"reading the log of pod {newest}", _request_timeout=(3, 30)))
    except ClusterError as e:  # e.g. 500: the API server could not reach the kubelet
        raise ClusterError(f"the cluster could not serve the log of pod {newest}: {short_text(e.reply)}",
                           status=e.status) from e
    except HTTPError as e:  # a read timeout: the call is not retried, so it is not mapped
        raise UnreachableError(f"the cluster could not serve the log of pod {newest}: {e}") from e


def cluster_settings(kube: KubeClient, path: Path | None, release: str = DEFAULT_RELEASE) -> ClusterConfig:
    """The file's settings, else the ConfigMap of the chart's ``release`` in ``kube.namespace``."""
    if path is not None:
        config = load_cluster_config(path)
    else:
        name = config_map_name(release)
        config = parse_cluster_config(_configmap_doc(kube, name, release), source=f"ConfigMap {name}")
    if config.namespace != kube.namespace:
        config = config.model_copy(update={"namespace": kube.namespace})
    return config


def _configmap_doc(kube: KubeClient, name: str, release: str) -> object:
    try:
        cm = kube.call(kube.core.read_namespaced_config_map, name, kube.namespace,
                       what=f"reading ConfigMap {name}")
    except NotFoundError:
        raise SpecError([f"--release: no ConfigMap {name} (release {release!r}) in namespace "
                         f"{kube.namespace!r}; install the chart there (helm install {release} "
                         f"charts/nativejobs -n {kube.namespace}), pass the release's --release and "
                         "--namespace, or pass --cluster-config FILE"]) from None
    text = (cm.data or {}).get(CONFIGMAP_KEY)
    if text is None:
        raise SpecError([f"ConfigMap {name}: no key {CONFIGMAP_KEY}; reinstall the chart"])
    return yaml.safe_load(text)


def open_backend(experiment: str, *, namespace: str | None, cluster_config: Path | None,
                 kubeconfig: Path | None, release: str = DEFAULT_RELEASE) -> KubernetesBackend:
    """A started backend (its watches running) for the Jobs of ``experiment``."""
    ns = namespace or (load_cluster_config(cluster_config).namespace if cluster_config else "nativejobs")
    kube = KubeClient(ns, kubeconfig_path=kubeconfig)
    return KubernetesBackend(kube, experiment, cluster_settings(kube, cluster_config, release))
