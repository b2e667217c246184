"""Simulated step workers for the kwok nodes of the local control plane.

kwok runs no containers, so a step pod on a fake GPU node never executes the step. These
workers stand in for the step's process: they watch the experiment's pods, and for each pod that
is Running they do what the step would have done to the store and to the pod:

- ``succeed``: write the step's ``_SUCCESS.json`` marker (the only output the controller reads;
  for summarize also a placeholder ``results.md``, which the CLI prints), then end the pod
  with exit code 0;
- ``exit:N``: end the pod with exit code N and write nothing (3 = bad input);
- ``evict``: evict the pod kubelet-style (condition DisruptionTarget, exit 137);
- ``hang``: leave it running.

A controller pod (``submit --detach``'s driver, label ``nativejobs.io/component=controller``)
is different: its command really runs, here, as a subprocess given by ``run_controller``
(which decides its credentials); the pod then ends with that process's exit code.

Pods must carry ``nativejobs.io/sim-duration: 1h`` (the test's cluster config puts it in
``pod_annotations``) so kwok keeps them Running until a worker ends them; the pod is ended by
patching the annotations documented in k8s/local/kwok-stages.yaml.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

from kubernetes import client, watch

from nativejobs.store import Store

Policy = Callable[[str, str, int], str]  # (kind, key, attempt) -> succeed | exit:N | evict | hang
ControllerRunner = Callable[[dict[str, Any]], int]  # the controller pod -> its exit code


class SimWorkers:
    """A thread that plays every step pod of one namespace by ``policy``."""

    def __init__(self, api: client.ApiClient, namespace: str, store: Store, policy: Policy,
                 run_controller: ControllerRunner | None = None) -> None:
        self.core = client.CoreV1Api(api)
        self.namespace, self.store, self.policy = namespace, store, policy
        self.run_controller = run_controller
        self.handled: list[tuple[str, str, int, str]] = []  # (pod, step ref, attempt, action)
        self.errors: list[str] = []  # a worker that breaks must fail the test, not hang it
        self._seen: set[str] = set()
        self._deciding = threading.Lock()  # a pod's policy call and its record in `handled`, as one
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="sim-workers")

    def __enter__(self) -> SimWorkers:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        assert not self.errors, "a simulated worker broke:\n" + "\n".join(self.errors)

    def _run(self) -> None:
        while not self._stop.is_set():
            stream = watch.Watch().stream(self.core.list_namespaced_pod, self.namespace,
                                          label_selector="app.kubernetes.io/managed-by=nativejobs",
                                          timeout_seconds=5)
            for event in stream:
                if self._stop.is_set():
                    return
                pod = event["raw_object"]
                if event["type"] != "DELETED" and pod.get("status", {}).get("phase") == "Running":
                    try:
                        self._play(pod)
                    except Exception:
                        self.errors.append(traceback.format_exc())

    def _play(self, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        if name in self._seen:
            return
        self._seen.add(name)
        if pod["metadata"]["labels"].get("nativejobs.io/component") == "controller":
            threading.Thread(target=self._control, args=(pod,), daemon=True).start()
            return
        command = pod["spec"]["containers"][0]["command"]
        kind, key = command[command.index("--step") + 1].split("/")
        attempt = int(pod["metadata"]["labels"]["nativejobs.io/attempt"])
        with self._deciding:
            action = self.policy(kind, key, attempt)
            self.handled.append((name, f"{kind}/{key}", attempt, action))
        if action == "succeed":
            self.succeed(name, f"{kind}/{key}")
        elif action.startswith("exit:"):
            self._annotate(name, {"nativejobs.io/sim-exit-code": action[5:],
                                  "nativejobs.io/sim-duration": "0s"})
        elif action == "evict":
            self._annotate(name, {"nativejobs.io/sim-evict": "true"})

    def succeed(self, pod: str, ref: str) -> None:
        """End a step pod as its step would: outputs, marker, exit 0 (also for one left hanging)."""
        kind, key = ref.split("/")
        if kind == "summarize":  # the one output the CLI prints when a run ends
            self.store.put_text(f"steps/summarize/{key}/results.md", "# simulated summary\n")
        self.store.put_marker(kind, key, {"simulated_by": "tests/integration/sim_workers.py"})
        self._annotate(pod, {"nativejobs.io/sim-exit-code": "0", "nativejobs.io/sim-duration": "0s"})

    def switch_policy(self, policy: Policy) -> None:
        """Play later pods by ``policy`` and end every pod left hanging so far as a success; no
        pod decided under the old policy can slip between the two."""
        with self._deciding:
            self.policy = policy
            hanging = [(pod, ref) for pod, ref, _, action in self.handled if action == "hang"]
        for pod, ref in hanging:
            self.succeed(pod, ref)

    def _control(self, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        try:
            if self.run_controller is None:
                raise AssertionError(f"controller pod {name} but no run_controller given")
            code = self.run_controller(pod)
            self.handled.append((name, "controller", 0, f"exit:{code}"))
            self._annotate(name, {"nativejobs.io/sim-exit-code": str(code),
                                  "nativejobs.io/sim-duration": "0s"})
        except Exception:
            self.errors.append(traceback.format_exc())

    def _annotate(self, pod: str, annotations: dict[str, str]) -> None:
        self.core.patch_namespaced_pod(pod, self.namespace, {"metadata": {"annotations": annotations}})

    def steps(self, action: str | None = None) -> list[str]:
        return [ref for _, ref, _, a in self.handled if action is None or a == action]
