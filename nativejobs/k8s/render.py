"""Steps → Kubernetes Job manifests. Pure: no I/O, no API calls.

One Job is one attempt of one step (DESIGN.md "Kubernetes shape"). The orchestrator keeps the
retry budget in the store and creates attempt N+1 as a new Job, so a Job never retries a
failure itself (``backoffLimit: 0``); its ``podFailurePolicy`` replaces a preempted or evicted
pod without counting a failure, and fails the Job at once on exit code 3 (bad input).
Secrets reach pods only as ``secretKeyRef``.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from nativejobs.errors import SpecError
from nativejobs.exit_codes import EXIT_BAD_INPUT
from nativejobs.host_inputs import MIRROR_ENV, mirror_uri
from nativejobs.k8s.config import ClusterConfig
from nativejobs.plan import Plan, Step, StepNeeds

__all__ = [
    "CONTAINER",
    "CONTAINER_SECURITY",
    "LABEL_ATTEMPT",
    "LABEL_EXPERIMENT",
    "LABEL_KIND",
    "LABEL_STEP",
    "MANAGED_BY",
    "QUEUE_LABEL",
    "TITLE_ANNOTATION",
    "job_name",
    "pod_security",
    "render_job",
    "render_plan",
    "selector",
    "store_env",
    "to_yaml",
]

MANAGED_BY = ("app.kubernetes.io/managed-by", "nativejobs")
LABEL_EXPERIMENT = "nativejobs.io/experiment"
LABEL_STEP = "nativejobs.io/step"  # the full 24-character step key
LABEL_KIND = "nativejobs.io/kind"
LABEL_ATTEMPT = "nativejobs.io/attempt"
TITLE_ANNOTATION = "nativejobs.io/title"
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
CONTAINER = "step"
CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def selector(experiment: str | None = None) -> str:
    """The label selector of one experiment's Jobs, or of every nativejobs Job."""
    out = f"{MANAGED_BY[0]}={MANAGED_BY[1]}"
    return f"{out},{LABEL_EXPERIMENT}={experiment}" if experiment else out


def job_name(step: Step, attempt: int) -> str:
    """The Job of one attempt of ``step``: deterministic, a DNS-1123 label well under 63 characters.

    Raises: ValueError if ``attempt`` < 1.
    """
    if attempt < 1:
        raise ValueError(f"attempt must be >= 1, got {attempt}")
    return f"nj-{step.kind}-{step.key[:12]}-a{attempt}"


def render_job(step: Step, config: ClusterConfig, *, experiment: str, store_uri: str,
               attempt: int = 1) -> dict[str, Any]:
    """The ``batch/v1`` Job that runs attempt ``attempt`` of ``step`` of ``experiment``, from
    ``step.needs`` and ``config`` alone.

    Raises: SpecError if the store is not ``s3://``, the step's cpu is malformed, or its engine
    or judge needs an API key that ``config.secret_env`` does not name.
    """
    _check_store(store_uri)
    labels = _labels(step, experiment, config, attempt)
    # Kueue's mutating webhook suspends a Job that carries its queue label (and unsuspends it
    # on admission), so spec.suspend is left unset: without Kueue it would never start.
    queue = {QUEUE_LABEL: config.kueue_queue} if config.kueue_queue else {}
    template = _compact({"labels": labels, "annotations": dict(config.pod_annotations)})
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": job_name(step, attempt), "namespace": config.namespace,
                     "labels": labels | queue, "annotations": {TITLE_ANNOTATION: step.title}},
        "spec": {
            "backoffLimit": 0,
            "podFailurePolicy": {"rules": [
                {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
                {"action": "FailJob", "onExitCodes": {"containerName": CONTAINER, "operator": "In",
                                                      "values": [EXIT_BAD_INPUT]}},
            ]},
            "activeDeadlineSeconds": step.needs.timeout_s,
            "ttlSecondsAfterFinished": config.ttl_seconds_after_finished,
            "template": {"metadata": template, "spec": _pod(step, config, store_uri, attempt)},
        },
    }


def render_plan(plan: Plan, config: ClusterConfig, *, store_uri: str) -> list[dict[str, Any]]:
    """Attempt 1 of every step, in plan order. Raises: SpecError as ``render_job``."""
    return [render_job(step, config, experiment=plan.name, store_uri=store_uri) for step in plan.steps]


def to_yaml(manifests: list[dict[str, Any]]) -> str:
    """Manifests as one multi-document YAML stream, keys in the order rendered."""
    return yaml.safe_dump_all(manifests, sort_keys=False, explicit_start=True, allow_unicode=True)


def _check_store(uri: str) -> None:
    if not re.match(r"s3://[^/]+", uri):
        raise SpecError([f"store: got {uri!r}; a cluster run needs an s3:// store that every pod "
                         "can reach (e.g. s3://bucket/prefix): set store in the spec or pass --store"])


def _labels(step: Step, experiment: str, config: ClusterConfig, attempt: int) -> dict[str, str]:
    return {MANAGED_BY[0]: MANAGED_BY[1], LABEL_EXPERIMENT: experiment, LABEL_STEP: step.key,
            LABEL_KIND: step.kind, LABEL_ATTEMPT: str(attempt), **config.extra_labels}


def _compact(d: dict[str, Any]) -> dict[str, Any]:
    """``d`` without unset optional fields (None, empty), so manifests show only what is set."""
    return {k: v for k, v in d.items() if v is not None and v != {} and v != []}


def _pod(step: Step, config: ClusterConfig, store_uri: str, attempt: int) -> dict[str, Any]:
    needs = step.needs
    mounts, volumes = _volumes(needs.shared_memory, config)
    container = {
        "name": CONTAINER,
        "image": config.images[needs.image_role],
        "imagePullPolicy": config.image_pull_policy,
        "command": ["python", "-m", "nativejobs.steps", "run", "--store", store_uri, "--step", step.ref],
        "env": _env(step, config, store_uri, attempt),
        "resources": _resources(needs, config),
        "volumeMounts": mounts,
        "securityContext": CONTAINER_SECURITY,
    }
    gpu = needs.gpus > 0
    tolerations = [*config.tolerations, *(config.gpu_tolerations if gpu else ())]
    return _compact({
        "restartPolicy": "Never",
        "serviceAccountName": config.step_service_account,
        "automountServiceAccountToken": False,  # steps never call the Kubernetes API
        "priorityClassName": config.priority_class,
        "securityContext": pod_security(config),
        "nodeSelector": config.node_selector | (config.gpu_node_selector if gpu else {}),
        "tolerations": [t.manifest() for t in tolerations],
        "imagePullSecrets": [{"name": n} for n in config.image_pull_secrets],
        "containers": [container],
        "volumes": volumes,
    })


def _resources(needs: StepNeeds, config: ClusterConfig) -> dict[str, Any]:
    requests = {"cpu": needs.cpu, "memory": needs.memory}
    # Extended resources go in limits only (the API server copies them to requests); quantities
    # are strings, as the API's own types and typed clients want them.
    limits = requests | ({config.gpu_resource: str(needs.gpus)} if needs.gpus else {})
    return {"requests": requests, "limits": limits}


def _threads(step: Step) -> int:
    """Torch threads: the step's whole cores (at least one), so CPU work fits its request."""
    cpu = step.needs.cpu
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(m?)", cpu)
    if m is None:
        raise SpecError([f"resources.{step.kind}.cpu: got {cpu!r}; give cores like \"4\" or "
                         "millicores like \"500m\""])
    return max(1, int(float(m[1]) / (1000 if m[2] else 1)))


def _secret(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def pod_security(config: ClusterConfig) -> dict[str, Any]:
    """The pod securityContext of every pod nativejobs creates: never root."""
    return {"runAsNonRoot": True, "runAsUser": config.run_as_user, "runAsGroup": config.run_as_group,
            "fsGroup": config.fs_group, "seccompProfile": {"type": "RuntimeDefault"}}


def store_env(config: ClusterConfig) -> list[dict[str, Any]]:
    """How a pod reaches the store: endpoint and region as values, the key pair by Secret."""
    plain = {"AWS_ENDPOINT_URL": config.store.endpoint_url, "AWS_REGION": config.store.region}
    env = [{"name": k, "value": v} for k, v in plain.items() if v is not None]
    if s := config.store.credentials_secret:
        env += [_secret("AWS_ACCESS_KEY_ID", s, config.store.access_key_id_key),
                _secret("AWS_SECRET_ACCESS_KEY", s, config.store.secret_access_key_key)]
    return env


def _env(step: Step, config: ClusterConfig, store_uri: str, attempt: int) -> list[dict[str, Any]]:
    needs = step.needs
    plain = {"PYTHONUNBUFFERED": "1",  # log lines reach `kubectl logs` as they happen
             "NATIVEJOBS_ATTEMPT": str(attempt),  # the step stores its own log under this number
             # the entrypoint imports torch only when this is set (the controller image has none)
             "NATIVEJOBS_THREADS": str(_threads(step)) if needs.torch else None,
             "HF_HOME": "/cache/hf", "NATIVEJOBS_CACHE": "/cache/nativejobs",
             # local input files are read from the copy `submit` uploads (nativejobs/host_inputs.py)
             MIRROR_ENV: mirror_uri(store_uri) if needs.host_inputs else None}
    env = [{"name": k, "value": v} for k, v in plain.items() if v is not None] + store_env(config)
    if config.hf_token and needs.torch:
        env.append(_secret("HF_TOKEN", config.hf_token.name, config.hf_token.key))
    return env + _service_keys(needs, config)


def _service_keys(needs: StepNeeds, config: ClusterConfig) -> list[dict[str, Any]]:
    """The API keys of the remote services a step calls (a translate engine, a judge)."""
    out = []
    for var, where in needs.secret_env:
        ref = config.secret_env.get(var)
        if ref is None:
            raise SpecError([f"{where}.api_key_env: {var} has no Secret on the cluster; add "
                             f"secret_env: {{{var}: {{name: SECRET, key: KEY}}}} to the cluster "
                             "config (the Helm chart's values)"])
        out.append(_secret(var, ref.name, ref.key))
    return out


def _volumes(shared_memory: bool, config: ClusterConfig) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Mounts and volumes: /cache (HF_HOME, model copies) and /dev/shm for kinds that load a model."""
    # Every step pod mounts the PVC at once: it must be ReadWriteMany.
    cache = ({"persistentVolumeClaim": {"claimName": config.cache_pvc}} if config.cache_pvc
             else {"emptyDir": {}})
    mounts = [{"name": "cache", "mountPath": "/cache"}]
    volumes = [{"name": "cache", **cache}]
    if shared_memory:
        mounts.append({"name": "dshm", "mountPath": "/dev/shm"})
        volumes.append({"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": config.shm_size}})
    return mounts, volumes
