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
from nativejobs.k8s.config import ClusterConfig
from nativejobs.plan import Plan, Step, engine_params, uses_gpu
from nativejobs.spec import ExperimentSpec

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
    "local_inputs",
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
EXIT_BAD_INPUT = 3  # the step entrypoint's "never retry" code
# Kinds that may load a model: vLLM and torch workers share tensors via /dev/shm.
_SHM_KINDS = ("translate", "train", "evaluate", "judge")
# Kinds on the worker images: they pull from the hub and run torch. summarize runs on the
# controller image, which has no torch (the entrypoint imports it when NATIVEJOBS_THREADS is set).
_WORKER_KINDS = ("prepare", "translate", "train", "evaluate", "judge")
# The steps that call a remote service, and the params entry that describes it.
_SERVICE_PARAM = {"translate": "engine", "judge": "judge"}


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


def render_job(step: Step, spec: ExperimentSpec, config: ClusterConfig, *, store_uri: str,
               attempt: int = 1) -> dict[str, Any]:
    """The ``batch/v1`` Job that runs attempt ``attempt`` of ``step``.

    Raises: SpecError if the store is not ``s3://``, the step's cpu is malformed, or its engine
    or judge needs an API key that ``config.secret_env`` does not name.
    """
    _check_store(store_uri)
    labels = _labels(step, spec, config, attempt)
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
            "activeDeadlineSeconds": spec.execution.step_timeout_minutes * 60,
            "ttlSecondsAfterFinished": config.ttl_seconds_after_finished,
            "template": {"metadata": template, "spec": _pod(step, spec, config, store_uri, attempt)},
        },
    }


def render_plan(plan: Plan, spec: ExperimentSpec, config: ClusterConfig, *,
                store_uri: str) -> list[dict[str, Any]]:
    """Attempt 1 of every step, in plan order. Raises: SpecError as ``render_job``."""
    return [render_job(step, spec, config, store_uri=store_uri) for step in plan.steps]


def local_inputs(spec: ExperimentSpec) -> list[str]:
    """``field: path`` of every input file the spec names on this machine's disk: a pod reads
    it only if the image or a volume has it at the same path; s3:// and hub sources travel."""
    named: list[tuple[str, str | None]] = [("data.native.path", spec.data.native.path),
                                           ("data.english.path", spec.data.english.path)]
    named += [(f"conditions[{i}].source.path", c.source.path)
              for i, c in enumerate(spec.conditions) if c.source]
    for i, b in enumerate(spec.benchmarks):
        named += [(f"benchmarks[{i}].path", b.path), (f"benchmarks[{i}].dev_path", b.dev_path)]
    return [f"{field}: {path}" for field, path in named if path and not path.startswith("s3://")]


def to_yaml(manifests: list[dict[str, Any]]) -> str:
    """Manifests as one multi-document YAML stream, keys in the order rendered."""
    return yaml.safe_dump_all(manifests, sort_keys=False, explicit_start=True, allow_unicode=True)


def _check_store(uri: str) -> None:
    if not re.match(r"s3://[^/]+", uri):
        raise SpecError([f"store: got {uri!r}; a cluster run needs an s3:// store that every pod "
                         "can reach (e.g. s3://bucket/prefix): set store in the spec or pass --store"])


def _labels(step: Step, spec: ExperimentSpec, config: ClusterConfig, attempt: int) -> dict[str, str]:
    return {MANAGED_BY[0]: MANAGED_BY[1], LABEL_EXPERIMENT: spec.name, LABEL_STEP: step.key,
            LABEL_KIND: step.kind, LABEL_ATTEMPT: str(attempt), **config.extra_labels}


def _compact(d: dict[str, Any]) -> dict[str, Any]:
    """``d`` without unset optional fields (None, empty), so manifests show only what is set."""
    return {k: v for k, v in d.items() if v is not None and v != {} and v != []}


def _pod(step: Step, spec: ExperimentSpec, config: ClusterConfig, store_uri: str,
         attempt: int) -> dict[str, Any]:
    gpu = uses_gpu(step, spec)
    mounts, volumes = _volumes(step, config)
    container = {
        "name": CONTAINER,
        "image": config.image_for(step.kind),
        "imagePullPolicy": config.image_pull_policy,
        "command": ["python", "-m", "nativejobs.steps", "run", "--store", store_uri, "--step", step.ref],
        "env": _env(step, spec, config, attempt),
        "resources": _resources(step, spec, config, gpu=gpu),
        "volumeMounts": mounts,
        "securityContext": CONTAINER_SECURITY,
    }
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


def _resources(step: Step, spec: ExperimentSpec, config: ClusterConfig, *,
               gpu: bool) -> dict[str, Any]:
    res = spec.resources_for(step.kind)
    requests = {"cpu": res.cpu, "memory": res.memory}
    # Extended resources go in limits only (the API server copies them to requests); quantities
    # are strings, as the API's own types and typed clients want them.
    limits = requests | ({config.gpu_resource: str(res.gpus)} if gpu else {})
    return {"requests": requests, "limits": limits}


def _threads(step: Step, spec: ExperimentSpec) -> int:
    """Torch threads: the step's whole cores (at least one), so CPU work fits its request."""
    cpu = spec.resources_for(step.kind).cpu
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


def _env(step: Step, spec: ExperimentSpec, config: ClusterConfig, attempt: int) -> list[dict[str, Any]]:
    worker = step.kind in _WORKER_KINDS
    plain = {"PYTHONUNBUFFERED": "1",  # log lines reach `kubectl logs` as they happen
             "NATIVEJOBS_ATTEMPT": str(attempt),  # the step stores its own log under this number
             "NATIVEJOBS_THREADS": str(_threads(step, spec)) if worker else None,
             "HF_HOME": "/cache/hf", "NATIVEJOBS_CACHE": "/cache/nativejobs"}
    env = [{"name": k, "value": v} for k, v in plain.items() if v is not None] + store_env(config)
    if config.hf_token and worker:
        env.append(_secret("HF_TOKEN", config.hf_token.name, config.hf_token.key))
    return env + _service_key(step, spec, config)


def _service_key(step: Step, spec: ExperimentSpec, config: ClusterConfig) -> list[dict[str, Any]]:
    """The API key of the remote service a step calls (a translate engine, a judge), if any."""
    param = _SERVICE_PARAM.get(step.kind)
    var = step.params[param].get("api_key_env") if param else None
    if var is None:
        return []
    ref = config.secret_env.get(var)
    if ref is None:
        raise SpecError([f"{_service_field(step, spec)}.api_key_env: {var} has no Secret on the "
                         f"cluster; add secret_env: {{{var}: {{name: SECRET, key: KEY}}}} to the "
                         "cluster config (the Helm chart's values)"])
    return [_secret(var, ref.name, ref.key)]


def _service_field(step: Step, spec: ExperimentSpec) -> str:
    """Where the spec defines the service of ``step``: ``engines.NAME`` or ``judges.NAME``."""
    if step.kind == "judge":
        return f"judges.{step.params['name']}"
    engine = step.params["engine"]
    name = next((n for n in spec.engines if engine_params(spec, n) == engine), engine["kind"])
    return f"engines.{name}"


def _volumes(step: Step, config: ClusterConfig) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Mounts and volumes: /cache (HF_HOME, model copies) and /dev/shm for kinds that load a model."""
    # Every step pod mounts the PVC at once: it must be ReadWriteMany.
    cache = ({"persistentVolumeClaim": {"claimName": config.cache_pvc}} if config.cache_pvc
             else {"emptyDir": {}})
    mounts = [{"name": "cache", "mountPath": "/cache"}]
    volumes = [{"name": "cache", **cache}]
    if step.kind in _SHM_KINDS:
        mounts.append({"name": "dshm", "mountPath": "/dev/shm"})
        volumes.append({"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": config.shm_size}})
    return mounts, volumes
