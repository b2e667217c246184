"""`submit --detach`: the controller itself runs as a Job in the cluster, so a laptop can leave.

The driver Job runs ``nativejobs drive NAME --store URI``, which reads the spec recorded in the
store by the submit and reconciles it like a local controller would. It runs under the chart's
ServiceAccount, restarts on failure (a restart resumes: the run's state is in the store), and
reads the chart's ConfigMap for the cluster settings.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from nativejobs.controller import CONTROLLER_ID_ENV
from nativejobs.errors import BackendError, SpecError
from nativejobs.k8s.backend import cluster_settings
from nativejobs.k8s.client import KubeClient
from nativejobs.k8s.config import DEFAULT_RELEASE, ClusterConfig, config_map_name
from nativejobs.k8s.errors import ConflictError
from nativejobs.k8s.render import CONTAINER_SECURITY, MANAGED_BY, pod_security, store_env

__all__ = ["LABEL_COMPONENT", "driver_name", "render_driver_job", "submit_driver"]

LABEL_COMPONENT = "nativejobs.io/component"  # "controller": not a step, never a step's Job


def driver_name(experiment: str) -> str:
    return f"nj-driver-{experiment}"


def render_driver_job(experiment: str, store_uri: str, config: ClusterConfig, *,
                      max_parallel: int | None = None, release: str = DEFAULT_RELEASE) -> dict[str, Any]:
    """The Job that runs the controller for ``experiment`` in the cluster (chart ``release``'s)."""
    labels = {MANAGED_BY[0]: MANAGED_BY[1], LABEL_COMPONENT: "controller",
              "nativejobs.io/driver-of": experiment, **config.extra_labels}
    command = ["nativejobs", "drive", experiment, "--store", store_uri, "--namespace", config.namespace,
               "--release", release]
    if max_parallel:
        command += ["--max-parallel", str(max_parallel)]
    holder = f"job/{config.namespace}/{driver_name(experiment)}"  # every pod of the Job: one controller
    container = {"name": "controller", "image": config.images["controller"],
                 "imagePullPolicy": config.image_pull_policy, "command": command,
                 "env": [{"name": "PYTHONUNBUFFERED", "value": "1"},
                         {"name": CONTROLLER_ID_ENV, "value": holder}, *store_env(config)],
                 "resources": {"requests": {"cpu": "250m", "memory": "512Mi"},
                               "limits": {"memory": "1Gi"}},
                 "securityContext": CONTAINER_SECURITY}
    pod: dict[str, Any] = {"restartPolicy": "OnFailure",  # a restarted controller resumes from the store
                           "serviceAccountName": config.controller_service_account,
                           "securityContext": pod_security(config), "containers": [container]}
    # Placement as every step pod's (a GPU step's extras aside): the driver must land where
    # real pods run, not, say, on a virtual node that only pretends to.
    if config.node_selector:
        pod["nodeSelector"] = dict(config.node_selector)
    if config.tolerations:
        pod["tolerations"] = [t.manifest() for t in config.tolerations]
    if config.priority_class:
        pod["priorityClassName"] = config.priority_class
    if config.image_pull_secrets:
        pod["imagePullSecrets"] = [{"name": n} for n in config.image_pull_secrets]
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": driver_name(experiment), "namespace": config.namespace, "labels": labels},
            "spec": {"backoffLimit": 20, "ttlSecondsAfterFinished": config.ttl_seconds_after_finished,
                     "template": {"metadata": {"labels": labels,
                                               "annotations": dict(config.pod_annotations)},
                                  "spec": pod}}}


def submit_driver(experiment: str, store_uri: str, *, namespace: str | None,
                  cluster_config: Path | None, kubeconfig: Path | None,
                  max_parallel: int | None, release: str = DEFAULT_RELEASE) -> str:
    """Create the driver Job (replacing a finished one); returns 'Job NAME in NAMESPACE'."""
    if cluster_config is not None:
        raise SpecError([f"--cluster-config: got {str(cluster_config)!r}; a detached controller "
                         f"reads the chart's ConfigMap {config_map_name(release)}; install the chart and "
                         "drop --cluster-config"])
    kube = KubeClient(namespace or "nativejobs", kubeconfig_path=kubeconfig)
    config = cluster_settings(kube, None, release)
    body = render_driver_job(experiment, store_uri, config, max_parallel=max_parallel, release=release)
    name = body["metadata"]["name"]
    try:
        kube.call(kube.batch.create_namespaced_job, kube.namespace, body,
                  what=f"creating the driver Job {name}")
    except ConflictError:
        _replace_finished(kube, name, body)
    return f"Job {name} in namespace {kube.namespace}"


def _replace_finished(kube: KubeClient, name: str, body: dict[str, Any]) -> None:
    existing = kube.call(kube.batch.read_namespaced_job, name, kube.namespace)
    if not (existing.status and (existing.status.succeeded or existing.status.failed)
            and not existing.status.active):
        raise BackendError(f"a controller for this experiment is already running (Job {name} in "
                              f"{kube.namespace}); follow it with `nativejobs status`")
    kube.call(kube.batch.delete_namespaced_job, name, kube.namespace, propagation_policy="Foreground")
    for _ in range(60):  # Foreground: the old Job is gone once its pods are
        try:
            kube.call(kube.batch.create_namespaced_job, kube.namespace, body,
                      what=f"creating the driver Job {name}")
            return
        except ConflictError:
            time.sleep(1)
    raise BackendError(f"the finished driver Job {name} was not removed within a minute; "
                          f"delete it (kubectl delete job {name} -n {kube.namespace}) and submit again")
