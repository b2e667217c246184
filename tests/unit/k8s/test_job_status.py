"""How Jobs and pods read as step outcomes and pending reasons; how API calls are retried."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nativejobs.k8s.client import retry_delay
from nativejobs.k8s.status import essentials, explain_pending, job_observation


def job(*conditions: tuple[str, str], suspend: bool = False, queue: str | None = None) -> dict[str, Any]:
    labels = {"kueue.x-k8s.io/queue-name": queue} if queue else {}
    return {"metadata": {"name": "nj-train-abc-a1", "labels": labels},
            "spec": {"suspend": suspend},
            "status": {"conditions": [{"type": t, "status": "True", "reason": r} for t, r in conditions]}}


def pod(*, exit_code: int | None = None, created: str = "2026-01-01T00:00:00Z",
        conditions: list[dict[str, str]] | None = None,
        waiting: dict[str, str] | None = None) -> dict[str, Any]:
    state = ({"terminated": {"exitCode": exit_code}} if exit_code is not None
             else {"waiting": waiting} if waiting else {"running": {}})
    return {"metadata": {"name": f"p-{created}", "creationTimestamp": created},
            "status": {"conditions": conditions or [],
                       "containerStatuses": [{"name": "step", "image": "img:1", "state": state}]}}


@pytest.mark.parametrize(("the_job", "pods", "expected"), [
    (job(), [pod()], ("running", None, "")),
    (job(("Complete", "CompletionsReached")), [pod(exit_code=0)], ("succeeded", 0, "")),
    # exit 3 under the FailJob rule: bad input, never retried
    (job(("Failed", "PodFailurePolicy")), [pod(exit_code=3)], ("failed", 3, "PodFailurePolicy")),
    (job(("Failed", "BackoffLimitExceeded")), [pod(exit_code=1)], ("failed", 1, "BackoffLimitExceeded")),
    (job(("Failed", "DeadlineExceeded")), [pod(exit_code=143)], ("failed", 143, "DeadlineExceeded")),
    # the newest pod decides; a disruption there is a free retry
    (job(("Failed", "BackoffLimitExceeded")),
     [pod(exit_code=1, created="2026-01-01T00:00:00Z"),
      pod(exit_code=137, created="2026-01-01T00:05:00Z",
          conditions=[{"type": "DisruptionTarget", "status": "True"}])],
     ("failed", 137, "DisruptionTarget")),
    (job(("Failed", "DeadlineExceeded")), [], ("failed", None, "DeadlineExceeded")),
    # FailureTarget comes before the pods are gone: not an end yet
    (job(("FailureTarget", "PodFailurePolicy")), [pod(exit_code=3)], ("running", None, "")),
])
def test_job_observation(the_job: dict[str, Any], pods: list[dict[str, Any]],
                         expected: tuple[str, int | None, str]) -> None:
    obs = job_observation("k", the_job, pods)
    assert (obs.phase, obs.exit_code, obs.reason) == expected
    slim = job_observation("k", essentials(the_job), [essentials(p) for p in pods])
    assert (slim.phase, slim.exit_code, slim.reason) == expected  # what a mirror keeps is enough


def test_pending_reasons() -> None:
    unschedulable = pod(conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                     "message": "0/2 nodes are available: 2 Insufficient nvidia.com/gpu."}])
    assert explain_pending(job(), [unschedulable], []) == \
        "unschedulable: 0/2 nodes are available: 2 Insufficient nvidia.com/gpu."
    pull = pod(waiting={"reason": "ImagePullBackOff", "message": "not found"})
    assert explain_pending(job(), [pull], []) == "image pull error (ImagePullBackOff) for img:1: not found"
    quota = {"reason": "FailedCreate", "message": 'pods "x" is forbidden: exceeded quota: gpus'}
    assert explain_pending(job(), [], [quota]).startswith("quota exceeded: ")
    assert explain_pending(job(suspend=True, queue="team-a"), [], []) == \
        "waiting for Kueue admission (queue team-a)"
    assert explain_pending(job(), [pod()], []) == ""  # running: nothing to explain
    for the_job, pods in ((job(), [unschedulable]), (job(), [pull]), (job(suspend=True, queue="q"), [])):
        assert explain_pending(essentials(the_job), [essentials(p) for p in pods], []) == \
            explain_pending(the_job, pods, [])


def test_a_mirrored_pod_keeps_what_is_read_and_drops_its_spec() -> None:
    from nativejobs.k8s.config import ClusterConfig
    from nativejobs.k8s.render import render_job
    from nativejobs.plan import Step, StepNeeds

    step = Step("train", "k" * 24, {"lr": 1e-4}, needs=StepNeeds(gpus=1, image_role="train", torch=True))
    template = render_job(step, ClusterConfig(), experiment="e", store_uri="s3://b/x", attempt=1)
    full = {"metadata": {**template["spec"]["template"]["metadata"], "name": "nj-train-p",
                         "creationTimestamp": "2026-01-01T00:00:00Z", "resourceVersion": "7",
                         "uid": "u" * 36,
                         "managedFields": [{"manager": "kubelet", "fieldsV1": {"f:status": {}}}]},
            "spec": template["spec"]["template"]["spec"],
            "status": {"phase": "Running", "podIP": "10.0.0.1",
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [{"name": "step", "image": "w:1", "imageID": "sha256:" + "0" * 64,
                                              "state": {"running": {"startedAt": "t"}}, "ready": True}]}}
    kept = essentials(full)
    assert kept == {"metadata": {k: full["metadata"][k] for k in ("name", "labels", "creationTimestamp")},
                    "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                               "containerStatuses": [{"name": "step", "image": "w:1",
                                                      "state": {"running": {"startedAt": "t"}}}]}}
    assert len(json.dumps(kept)) < len(json.dumps(full)) / 3


@pytest.mark.parametrize(("status", "headers", "expected"), [
    (404, {}, None), (409, {}, None), (403, {}, None),  # the caller's problem: no retry
    (429, {"Retry-After": "7"}, 7.0), (503, {"Retry-After": "2"}, 2.0),
    (429, {"Retry-After": "999"}, 30.0),  # capped
])
def test_retry_delay_honours_retry_after(status: int, headers: dict[str, str],
                                         expected: float | None) -> None:
    assert retry_delay(status, headers, 0) == expected


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, None])
def test_retry_delay_backs_off_exponentially_with_jitter(status: int | None) -> None:
    for tries in range(6):
        delays = [retry_delay(status, None, tries) for _ in range(50)]
        assert all(d is not None and 0 <= d <= min(30.0, 0.5 * 2 ** tries) for d in delays)
    assert max(retry_delay(status, None, 5) or 0 for _ in range(50)) > 0.5  # it grows


def test_calls_are_retried_on_429_with_retry_after_then_succeed() -> None:
    from kubernetes.client.exceptions import ApiException

    from nativejobs.k8s.client import call_with_retries

    slept: list[float] = []
    answers: list[Any] = [ApiException(status=429), ApiException(status=503), "created"]
    answers[0].headers = {"Retry-After": "3"}

    def create() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert call_with_retries(create, max_tries=5, sleep=slept.append) == "created"
    assert slept[0] == 3.0 and len(slept) == 2


def test_a_client_error_is_not_retried_and_a_lasting_outage_gives_up() -> None:
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import NewConnectionError

    from nativejobs.errors import NativeJobsError
    from nativejobs.k8s.client import call_with_retries

    calls: list[int] = []

    def forbidden() -> None:
        calls.append(1)
        raise ApiException(status=403)

    with pytest.raises(ApiException):
        call_with_retries(forbidden, max_tries=5, sleep=lambda s: None)
    assert len(calls) == 1

    def down() -> None:
        calls.append(2)
        raise NewConnectionError(None, "connection refused")  # type: ignore[arg-type]

    with pytest.raises(NativeJobsError, match="unreachable"):
        call_with_retries(down, max_tries=3, sleep=lambda s: None)
    assert calls.count(2) == 3


def test_a_watch_answered_410_gone_relists_at_once_and_watches_again() -> None:
    from kubernetes.client.exceptions import ApiException

    from nativejobs.k8s.client import Mirror as _Mirror

    mirror = _Mirror(None, lambda *a, **k: None, "x=y")  # type: ignore[arg-type]
    happened: list[str] = []

    def watch_once() -> None:
        happened.append("watch")
        if happened.count("watch") == 1:
            raise ApiException(status=410, reason="Gone")
        mirror.stop()

    mirror._watch_once = watch_once  # type: ignore[method-assign]
    mirror._relist = lambda: happened.append("relist")  # type: ignore[method-assign]
    waits: list[float | None] = []
    mirror._stop.wait = lambda timeout=None: waits.append(timeout) or False  # type: ignore[method-assign]
    mirror._watch_forever()

    assert happened == ["watch", "relist", "watch"]
    assert waits == []  # an expired version is routine: no backoff


class _RawWatch:
    """A watch response as urllib3 gives it: JSON lines, split across chunks anywhere."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        data = "".join(json.dumps(e) + "\n" for e in events).encode()
        self.chunks = [data[i:i + 7] for i in range(0, len(data), 7)]
        self.closed = self.released = False

    def stream(self, amt: Any = None, decode_content: Any = None) -> Any:
        yield from self.chunks

    def close(self) -> None:
        self.closed = True

    def release_conn(self) -> None:
        self.released = True


def _pod(name: str, version: str, phase: str = "Pending", **metadata: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "resourceVersion": version, **metadata},
            "status": {"phase": phase}}


def test_a_watch_reads_plain_json_events_into_the_mirror_and_a_410_ends_it() -> None:
    from kubernetes.client.exceptions import ApiException

    from nativejobs.k8s.client import Mirror as _Mirror

    resp = _RawWatch([
        {"type": "ADDED", "object": _pod("a", "5")},
        {"type": "ADDED", "object": _pod("b", "6")},
        {"type": "MODIFIED", "object": _pod("a", "7", "Running", managedFields=[{"manager": "kwok"}])},
        {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "9"}}},
        {"type": "DELETED", "object": _pod("b", "10")},
        {"type": "ERROR", "object": {"kind": "Status", "code": 410, "message": "too old"}},
    ])
    calls: list[dict[str, Any]] = []

    def list_fn(namespace: str, **kwargs: Any) -> _RawWatch:
        calls.append(kwargs)
        return resp

    class Kube:
        namespace = "ns"

    mirror = _Mirror(Kube(), list_fn, "x=y", keep=essentials)  # type: ignore[arg-type]
    mirror._version = "4"
    with pytest.raises(ApiException) as raised:
        mirror._watch_once()

    assert raised.value.status == 410
    assert calls[0]["watch"] is True and calls[0]["resource_version"] == "4"
    assert calls[0]["_preload_content"] is False  # events stay plain dicts: no typed models
    # kept: what is read (no managedFields, no resourceVersion)
    assert mirror.items == {"a": {"metadata": {"name": "a"}, "status": {"phase": "Running"}}}
    assert mirror._version == "10"
    assert resp.closed and resp.released


def test_a_forgotten_object_stays_out_of_the_mirror_until_it_is_deleted() -> None:
    from kubernetes.client.exceptions import ApiException

    from nativejobs.k8s.client import Mirror as _Mirror

    class Kube:
        namespace = "ns"

    events = [{"type": "MODIFIED", "object": _pod("a", "7", "Succeeded")},  # after forget: ignored
              {"type": "MODIFIED", "object": _pod("b", "8", "Running")},
              {"type": "DELETED", "object": _pod("a", "9")},
              {"type": "ADDED", "object": _pod("a", "10")},  # a new object of the same name
              {"type": "ERROR", "object": {"kind": "Status", "code": 410, "message": "too old"}}]
    mirror = _Mirror(Kube(), lambda namespace, **kw: _RawWatch(events), "x=y")  # type: ignore[arg-type]
    mirror.items = {"a": _pod("a", "5"), "b": _pod("b", "6")}

    mirror.forget(["a"])
    assert set(mirror.items) == {"b"}
    with pytest.raises(ApiException):
        mirror._watch_once()

    assert mirror.items["b"]["status"]["phase"] == "Running"
    assert mirror.items["a"]["metadata"]["resourceVersion"] == "10"  # deleted, then made anew


def test_a_relist_leaves_out_forgotten_objects() -> None:
    from nativejobs.k8s.client import Mirror as _Mirror

    class Reply:
        data = json.dumps({"metadata": {"resourceVersion": "3"},
                           "items": [_pod("a", "1"), _pod("b", "2")]}).encode()

    class Kube:
        namespace = "ns"

        def call(self, fn: Any, *args: Any, **kwargs: Any) -> Reply:
            return Reply()

    mirror = _Mirror(Kube(), lambda *a, **k: None, "x=y")  # type: ignore[arg-type]
    mirror.forget(["a", "gone"])
    mirror._relist()

    assert set(mirror.items) == {"b"} and mirror._version == "3"
    assert mirror._forgotten == {"a"}  # "gone" was deleted unseen: no event will name it again
