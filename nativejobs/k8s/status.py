"""What a step's Job and pods say, as pure functions over API objects (camelCase dicts).

Kept apart from the client so every branch is table-tested without a cluster: how a finished
Job maps to an Observation (exit code 3 → bad input, eviction → free retry), and why a Job that
is not running yet is waiting (unschedulable, image pull, quota, Kueue admission).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nativejobs.orchestrate import Observation

__all__ = ["essentials", "explain_pending", "job_observation", "step_exit_code"]

Obj = dict[str, Any]

_IMAGE_ERRORS = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")
_METADATA = ("name", "labels", "creationTimestamp")
_CONTAINER_STATUS = ("name", "image", "state")


def essentials(obj: Obj) -> Obj:
    """The parts of a Job or pod that the functions here and the backend read. The backend's
    mirrors hold every Job and pod of the namespace, and a whole pod is ~7 kB, mostly spec
    and managedFields: 10,000 steps held ~1 GiB whole (bench/RESULTS.md)."""
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    kept: Obj = {"metadata": {k: meta[k] for k in _METADATA if k in meta},
                 "status": {k: status[k] for k in ("phase", "conditions") if k in status}}
    if "suspend" in spec:
        kept["spec"] = {"suspend": spec["suspend"]}
    if "containerStatuses" in status:
        kept["status"]["containerStatuses"] = [{k: cs[k] for k in _CONTAINER_STATUS if k in cs}
                                               for cs in status["containerStatuses"]]
    return kept


def _conditions(obj: Obj) -> dict[str, Obj]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []
            if c.get("status") == "True"}


def step_exit_code(pod: Obj) -> int | None:
    """The exit code of the pod's ``step`` container, if it terminated."""
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == "step":
            terminated = (status.get("state") or {}).get("terminated")
            return None if terminated is None else terminated.get("exitCode")
    return None


def _newest(pods: Sequence[Obj]) -> Obj | None:
    return max(pods, key=lambda p: p["metadata"].get("creationTimestamp") or "", default=None)


def job_observation(key: str, job: Obj, pods: Sequence[Obj]) -> Observation:
    """Running until the Job has a Complete or Failed condition; then the step's exit code."""
    conds = _conditions(job)
    if "Complete" in conds:
        return Observation(key, "succeeded", 0)
    failed = conds.get("Failed")  # not FailureTarget: its pods may still be terminating
    if failed is None:
        return Observation(key, "running")
    codes = [c for c in map(step_exit_code, pods) if c is not None]
    reason = failed.get("reason") or ""  # PodFailurePolicy, BackoffLimitExceeded, DeadlineExceeded
    if reason == "PodFailurePolicy" and 3 in codes:
        return Observation(key, "failed", 3, reason)
    last = _newest(pods)
    code = step_exit_code(last) if last else None
    disrupted = last is not None and "DisruptionTarget" in _conditions(last)
    return Observation(key, "failed", code, "DisruptionTarget" if disrupted else reason)


def explain_pending(job: Obj, pods: Sequence[Obj], events: Sequence[Obj]) -> str:
    """Why a Job's step is not running yet, in one line; "" when nothing is wrong."""
    if (job.get("spec") or {}).get("suspend"):
        queue = job["metadata"].get("labels", {}).get("kueue.x-k8s.io/queue-name")
        return f"waiting for Kueue admission (queue {queue})" if queue else "suspended"
    pod = _newest(pods)
    if pod is None:
        failed = [e for e in events if e.get("reason") == "FailedCreate"]
        if failed:
            message = failed[-1].get("message", "")
            kind = "quota exceeded" if "exceeded quota" in message else "cannot create its pod"
            return f"{kind}: {message}"
        return ""
    status = pod.get("status") or {}
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            return f"unschedulable: {cond.get('message') or cond.get('reason')}"
    for cs in status.get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in _IMAGE_ERRORS:
            reason, message = waiting["reason"], waiting.get("message", "")
            return f"image pull error ({reason}) for {cs.get('image')}: {message}"
    return ""
