"""The Kubernetes controller at scale: plans of 100, 1,000 and 10,000 steps on the local control
plane (scripts/cluster.sh: kube-apiserver, controller-manager, scheduler, etcd, kwok GPU nodes),
against the same Jobs created directly with the kubernetes client.

    eval "$(NATIVEJOBS_CLUSTER_DIR=$(mktemp -d) scripts/cluster.sh up)"
    python bench/scale.py --steps 100 1000 10000        # all figures, both ways
    python bench/scale.py --steps 10000 --plan-only     # plan time alone, no cluster
    scripts/cluster.sh down

What is measured, for each N:

plan time     ``build_plan`` (the real planner) on the quickstart spec grown to at least N steps:
              more base models (each adds 9 train and 9 evaluate steps); best of 3.
the run       a plan of N independent GPU steps (``train``-shaped: 1 GPU, the worker image),
              run twice, each time in a fresh namespace, by a process of its own:
  baseline    every Job rendered first, then created one by one with the kubernetes client
              (``BatchV1Api.create_namespaced_job``); done when every Job has succeeded (watch);
  nativejobs  ``Orchestrator.run`` over ``KubernetesBackend`` (what ``nativejobs submit
              --backend k8s`` runs), ``max_parallel`` N, store on local disk (or --store);
              its Job creates overlap (``launch_concurrency``, 8; --launch-concurrency 1 is
              the serial way the baseline goes).
Steps are simulated: kwok runs each pod for ``--duration`` (annotation nativejobs.io/sim-duration),
and a watcher in this process writes a step's ``_SUCCESS.json`` marker when its pod appears
(a step writes it just before it exits; writing it early keeps a lagging watcher from failing
steps). The pods go to fake nodes this bench adds (tainted ``nativejobs.io/bench``, so no
other pod lands there; removed at the end), roomy enough that no step waits for a GPU.

Figures (controller process = the process creating Jobs; each way runs in its own):
  Jobs created/s             N / (last Job created - run start)
  API requests/step          HTTP requests the process sent (watches and lists included) / N;
                             and the whole cluster's (apiserver_request_total, every client) / N
  submit->start P50/P90/P99  Job created (client clock) -> its pod seen Running
  run start->start P50/...   run start -> pod seen Running (includes waiting to be created)
  run start->end seen P50/99 run start -> the process saw the step end (baseline: its Job's
                             watch event; nativejobs: the step's ✓ event, after its pass recorded it)
  Job complete->watch event  the Job's Complete condition (cluster clock, to the second) -> the
                             process took in the watch event that carried it
  reconcile passes           nativejobs: passes of the run, and the longest (end to end)
  makespan                   run start -> every step done (nativejobs: the run finished)
  controller CPU             user+system seconds of the process during the run, and / makespan
  controller memory          peak RSS, and peak minus RSS at run start (the run's own growth)
  overhead                   (makespan nativejobs - makespan baseline) / makespan nativejobs
The ratio column is nativejobs / baseline. On a small shared machine every component (the API
server, etcd, the controllers, kwok, this process) competes for the same cores: note the load.
"""

from __future__ import annotations

import argparse
import calendar
import hashlib
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `python bench/scale.py` from a checkout
    sys.path.insert(0, str(REPO))

from kubernetes import client  # noqa: E402
from kubernetes import config as kubeconfig  # noqa: E402
from kubernetes.watch.watch import iter_resp_lines  # noqa: E402

from nativejobs.plan import Plan, Step, StepNeeds, build_plan  # noqa: E402

BENCH_LABEL = "nativejobs.io/bench"
FAKE_STORE = "s3://nativejobs-bench/store"  # what Job manifests name; pods never read it
STEP_LABEL, KIND_LABEL = "nativejobs.io/step", "nativejobs.io/kind"
NEEDS = StepNeeds(gpus=1, cpu="4", memory="32Gi", image_role="train", torch=True, shared_memory=True)
# The figures every run prints (tests/integration/test_scale_bench.py checks each is there).
FIGURES = ("plan time", "Jobs created/s", "API requests/step (process)", "API requests/step (cluster)",
           "submit->start P50", "submit->start P90", "submit->start P99", "run start->start P50",
           "run start->start P90", "run start->start P99", "Job complete->watch event P50",
           "Job complete->watch event P99", "run start->end seen P50",
           "run start->end seen P99", "makespan", "controller CPU",
           "controller CPU / makespan", "controller peak RSS", "controller RSS growth",
           "overhead (of the nativejobs run)")


# -- plan time ---------------------------------------------------------------------------------
def plan_time(n: int, *, repeats: int = 3) -> tuple[int, float]:
    """(steps, best seconds) of ``build_plan`` on the quickstart spec grown to >= ``n`` steps."""
    import yaml

    from nativejobs.spec import parse_spec

    path = REPO / "examples" / "quickstart.yaml"
    doc = yaml.safe_load(path.read_text())
    fixed, per_model = 16, 18  # quickstart: 6 prepare, 9 translate, 1 summarize; 9+9 a model
    models = max(1, math.ceil((n - fixed) / per_model))
    doc["models"] = [{"name": f"m{i}", "id": f"bench-org/model-{i}"} for i in range(models)]
    spec = parse_spec(doc, base_dir=path.parent)
    best, steps = math.inf, 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        steps = len(build_plan(spec).steps)
        best = min(best, time.perf_counter() - t0)
    return steps, best


# -- the synthetic run -------------------------------------------------------------------------
def synthetic_plan(n: int, name: str) -> Plan:
    """``n`` independent GPU steps, keys unique to ``name``."""
    steps = tuple(Step("train", hashlib.sha256(f"{name}/{i}".encode()).hexdigest()[:24],
                       {"bench": i}, labels={"step": str(i)}, needs=NEEDS) for i in range(n))
    return Plan(name, steps)


def cluster_config(namespace: str, duration: str) -> Any:
    from nativejobs.k8s.config import ClusterConfig, Toleration

    return ClusterConfig(namespace=namespace, node_selector={BENCH_LABEL: "scale"},
                         tolerations=(Toleration(key=BENCH_LABEL, operator="Exists",
                                                 effect="NoSchedule"),),
                         pod_annotations={"nativejobs.io/sim-duration": duration})


def _count_requests() -> dict[str, int]:
    """Count every HTTP request the kubernetes client sends from now on (method; WATCH apart)."""
    counts: dict[str, int] = {}
    real = client.ApiClient.call_api

    def counting(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        what = "WATCH" if "watch=true" in url.lower() else method
        counts[what] = counts.get(what, 0) + 1
        return real(self, method, url, *args, **kwargs)

    client.ApiClient.call_api = counting  # type: ignore[method-assign]
    return counts


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _stream(list_fn: Callable[..., Any], namespace: str, selector: str, version: str,
            on_event: Callable[[str, dict[str, Any]], None], stop: threading.Event) -> None:
    """Watch as plain JSON from ``version`` until ``stop``; re-list on any break (410 included)."""
    while not stop.is_set():
        try:
            resp = list_fn(namespace, label_selector=selector, watch=True, resource_version=version,
                           timeout_seconds=10, allow_watch_bookmarks=True, _preload_content=False)
            try:
                for line in iter_resp_lines(resp):
                    if not line:
                        continue
                    event = json.loads(line)
                    if event["type"] == "ERROR":
                        raise RuntimeError(event["object"].get("message"))
                    version = event["object"]["metadata"].get("resourceVersion") or version
                    if event["type"] != "BOOKMARK":
                        on_event(event["type"], event["object"])
                    if stop.is_set():
                        return
            finally:
                resp.close()
                resp.release_conn()
        except Exception:
            if stop.is_set():
                return
            listed = json.loads(list_fn(namespace, label_selector=selector,
                                        _preload_content=False).data)
            for obj in listed.get("items") or []:
                on_event("ADDED", obj)
            version = listed["metadata"]["resourceVersion"]


def _phase_baseline(args: argparse.Namespace) -> dict[str, Any]:
    from nativejobs.k8s.render import render_job
    from nativejobs.k8s.status import job_observation

    counts = _count_requests()
    plan = synthetic_plan(args.steps, args.name)
    config = cluster_config(args.namespace, args.duration)
    manifests = [render_job(s, config, experiment=plan.name, store_uri=FAKE_STORE) for s in plan.steps]
    rss0, cpu0 = _rss_kb(), _cpu_s()
    t0 = time.time()
    api = kubeconfig.new_client_from_config()
    batch = client.BatchV1Api(api)
    ended: dict[str, str] = {}
    ended_at: dict[str, float] = {}
    watch_lag: list[float] = []
    all_ended, stop = threading.Event(), threading.Event()

    def on_job(kind: str, job: dict[str, Any]) -> None:
        key = job["metadata"]["labels"][STEP_LABEL]
        phase = job_observation(key, job, []).phase
        if kind != "DELETED" and phase != "running" and key not in ended:
            ended[key] = phase
            ended_at[key] = time.time()
            if (done := _completed_at(job)) is not None:
                watch_lag.append(ended_at[key] - done)
            if len(ended) == args.steps:
                all_ended.set()

    listed = json.loads(batch.list_namespaced_job(args.namespace, _preload_content=False).data)
    watcher = threading.Thread(target=_stream, daemon=True, args=(
        batch.list_namespaced_job, args.namespace, "app.kubernetes.io/managed-by=nativejobs",
        listed["metadata"]["resourceVersion"], on_job, stop))
    watcher.start()
    created: dict[str, float] = {}
    for step, manifest in zip(plan.steps, manifests, strict=True):
        batch.create_namespaced_job(args.namespace, manifest)
        created[step.key] = time.time()
    if not all_ended.wait(args.timeout):
        raise SystemExit(f"baseline: {len(ended)} of {args.steps} Jobs ended in {args.timeout} s")
    t1 = time.time()
    stop.set()
    failed = sum(p != "succeeded" for p in ended.values())
    return _phase_result(t0, t1, created, counts, rss0, cpu0, failed=failed, retried=0) | {
        "ended": ended_at, "watch_lag": watch_lag}


def _phase_nativejobs(args: argparse.Namespace) -> dict[str, Any]:
    from nativejobs.k8s.backend import KubernetesBackend
    from nativejobs.k8s.client import KubeClient
    from nativejobs.orchestrate import Orchestrator
    from nativejobs.store import open_store

    counts = _count_requests()
    watch_lag = _time_mirror_events()
    plan = synthetic_plan(args.steps, args.name)
    store = open_store(args.store)
    store_uri = args.store if args.store.startswith("s3://") else FAKE_STORE
    config = cluster_config(args.namespace, args.duration)
    rss0, cpu0 = _rss_kb(), _cpu_s()
    t0 = time.time()
    backend = KubernetesBackend(KubeClient(args.namespace), plan.name, config)
    backend.launch_concurrency = args.launch_concurrency or backend.launch_concurrency
    created: dict[str, float] = {}

    ended: dict[str, float] = {}
    passes: list[float] = []  # when each reconcile pass ended

    def on_event(what: str, step: Step, message: str) -> None:
        if what == "launched":
            created.setdefault(step.key, time.time())
        elif what in ("succeeded", "failed"):
            ended.setdefault(step.key, time.time())

    orch = Orchestrator(plan, store, backend, max_parallel=args.max_parallel or args.steps,
                        retries=1, on_event=on_event)
    deadline = t0 + args.timeout

    def give_up(status: Any) -> None:
        passes.append(time.time())
        if time.time() > deadline:
            raise SystemExit(f"nativejobs: not finished in {args.timeout} s: {dict(status.counts())}")

    status = orch.run(store_uri, poll_s=args.poll, on_pass=give_up)
    t1 = time.time()
    backend.close()
    retried = sum(len(tries) > 1 for tries in orch.attempts.values())
    failed = sum(status.states[s.key] != "done" for s in plan.steps)
    return _phase_result(t0, t1, created, counts, rss0, cpu0, failed=failed, retried=retried) | {
        "ended": ended, "passes": passes, "watch_lag": watch_lag}


def _time_mirror_events() -> list[float]:
    """How long after the cluster marked each Job Complete the backend's mirror took it in."""
    from nativejobs.k8s.client import Mirror

    lags: list[float] = []
    seen: set[str] = set()
    real = Mirror._apply

    def timed(self: Any, event: dict[str, Any]) -> None:
        obj = event.get("object") or {}
        name = (obj.get("metadata") or {}).get("name")
        if name not in seen and (done := _completed_at(obj)) is not None:
            seen.add(name)
            lags.append(time.time() - done)
        real(self, event)

    Mirror._apply = timed  # type: ignore[method-assign]
    return lags


def _completed_at(job: dict[str, Any]) -> float | None:
    """When the cluster marked the Job Complete (its condition's time, to the second)."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Complete" and cond.get("status") == "True":
            stamp = cond.get("lastTransitionTime") or ""
            return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")) if stamp else None
    return None


def _phase_result(t0: float, t1: float, created: dict[str, float], counts: dict[str, int],
                  rss0: int, cpu0: float, *, failed: int, retried: int) -> dict[str, Any]:
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"t0": t0, "t1": t1, "created": created, "requests": counts, "cpu_s": _cpu_s() - cpu0,
            "rss_start_kb": rss0, "rss_peak_kb": peak_kb, "failed": failed, "retried": retried}


# -- the driver: nodes, namespaces, the simulated steps, the figures ---------------------------
class Cluster:
    """What this process does on the cluster around the measured processes."""

    def __init__(self) -> None:
        self.api = kubeconfig.new_client_from_config()
        self.core = client.CoreV1Api(self.api)
        self.nodes: list[str] = []

    def add_nodes(self, count: int, tag: str) -> None:
        """Fake GPU nodes kwok runs pods on; tainted so only the bench's pods land there."""
        room = {"cpu": "100000", "memory": "100Ti", "ephemeral-storage": "100Ti", "pods": "5000",
                "nvidia.com/gpu": "5000"}
        for i in range(count):
            name = f"nj-bench-{tag}-{i}"
            self.core.create_node({
                "metadata": {"name": name, "annotations": {"kwok.x-k8s.io/node": "fake"},
                             "labels": {BENCH_LABEL: "scale", "type": "kwok",
                                        "kubernetes.io/hostname": name}},
                "spec": {"taints": [{"key": BENCH_LABEL, "value": "scale", "effect": "NoSchedule"}]},
                "status": {"allocatable": room, "capacity": room}})
            self.nodes.append(name)
        deadline = time.monotonic() + 120
        while not all(self._ready(n) for n in self.nodes):
            if time.monotonic() > deadline:
                raise SystemExit(f"bench nodes not Ready in 120 s (is kwok running?): {self.nodes}")
            time.sleep(0.5)

    def _ready(self, name: str) -> bool:
        node = self.core.read_node(name)
        return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])

    def remove_nodes(self) -> None:
        for name in self.nodes:
            self.core.delete_node(name)

    def new_namespace(self, name: str) -> None:
        self.core.create_namespace({"metadata": {"name": name}})
        deadline = time.monotonic() + 120  # pods need the namespace's default ServiceAccount
        while not self.core.list_namespaced_service_account(name).items:
            if time.monotonic() > deadline:
                raise SystemExit(f"namespace {name} got no default ServiceAccount in 120 s")
            time.sleep(0.2)

    def drop_namespace(self, name: str, *, timeout_s: float) -> float:
        """Delete and wait until it is gone (its Jobs and pods would load the next run)."""
        t0 = time.monotonic()
        self.core.delete_namespace(name)
        while time.monotonic() - t0 < timeout_s:
            if not any(ns.metadata.name == name for ns in self.core.list_namespace().items):
                break
            time.sleep(1)
        return time.monotonic() - t0

    def requests_total(self) -> float:
        """The apiserver's apiserver_request_total over every label set (every client)."""
        text = self.api.call_api("GET", self.api.configuration.host + "/metrics",
                                 header_params={"Accept": "text/plain"})
        text.read()
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.data.decode().splitlines()
                   if line.startswith("apiserver_request_total{"))


class SimulatedSteps:
    """The steps' side: a marker when a step's pod appears; when each pod was seen Running."""

    def __init__(self, cluster: Cluster, namespace: str, store_uri: str) -> None:
        from nativejobs.store import open_store

        self.core, self.namespace = cluster.core, namespace
        self.store = open_store(store_uri)
        self.running: dict[str, float] = {}
        self._marked: set[str] = set()
        self._stop = threading.Event()
        listed = json.loads(self.core.list_namespaced_pod(namespace, _preload_content=False).data)
        self._thread = threading.Thread(target=_stream, daemon=True, args=(
            self.core.list_namespaced_pod, namespace, "app.kubernetes.io/managed-by=nativejobs",
            listed["metadata"]["resourceVersion"], self._on_pod, self._stop))
        self._thread.start()

    def _on_pod(self, kind: str, pod: dict[str, Any]) -> None:
        if kind == "DELETED":
            return
        labels = pod["metadata"].get("labels") or {}
        key, step_kind = labels.get(STEP_LABEL), labels.get(KIND_LABEL)
        if not key or not step_kind:
            return
        if key not in self._marked:
            self.store.put_marker(step_kind, key, {"simulated_by": "bench/scale.py"})
            self._marked.add(key)
        if pod.get("status", {}).get("phase") == "Running" and key not in self.running:
            self.running[key] = time.time()

    def stop(self) -> None:
        self._stop.set()


def run_way(way: str, n: int, args: argparse.Namespace, cluster: Cluster, tag: str) -> dict[str, Any]:
    """One way of running N steps, in a fresh namespace and a process of its own."""
    namespace = f"nj-bench-{tag}-{way[:4]}-{n}"
    cluster.new_namespace(namespace)
    store_dir = tempfile.mkdtemp(prefix=f"nj-bench-{way}-")
    store_uri = args.store or store_dir
    sim = SimulatedSteps(cluster, namespace, store_uri)
    out = Path(store_dir) / "result.json"
    before = cluster.requests_total()
    cmd = [sys.executable, str(Path(__file__).resolve()), "_phase", way, "--steps", str(n),
           "--namespace", namespace, "--name", f"bench-{tag}-{n}", "--store", store_uri,
           "--duration", args.duration, "--poll", str(args.poll), "--timeout", str(args.timeout),
           "--max-parallel", str(args.max_parallel or 0), "--out", str(out),
           "--launch-concurrency", str(args.launch_concurrency)]
    done = subprocess.run(cmd, timeout=args.timeout + 300, check=False)
    after = cluster.requests_total()
    sim.stop()
    if done.returncode != 0:
        raise SystemExit(f"{way} at {n} steps exited {done.returncode}")
    result = json.loads(out.read_text())
    result["running"] = dict(sim.running)
    result["cluster_requests"] = after - before
    result["cleanup_s"] = cluster.drop_namespace(namespace, timeout_s=args.cleanup_timeout)
    return result


def _pct(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def figures(r: dict[str, Any], n: int) -> dict[str, float]:
    created, running, t0 = r["created"], r["running"], r["t0"]
    start = [running[k] - created[k] for k in created if k in running]
    from_run = [running[k] - t0 for k in created if k in running]
    makespan = r["t1"] - t0
    out = {"Jobs created/s": n / max(max(created.values()) - t0, 1e-9) if created else math.nan,
           "API requests/step (process)": sum(r["requests"].values()) / n,
           "API requests/step (cluster)": r["cluster_requests"] / n}
    for p in (50, 90, 99):
        out[f"submit->start P{p}"] = _pct(start, p)
    for p in (50, 90, 99):
        out[f"run start->start P{p}"] = _pct(from_run, p)
    for p in (50, 99):
        out[f"Job complete->watch event P{p}"] = _pct(r["watch_lag"], p)
    ends = [t - t0 for t in r["ended"].values()]
    for p in (50, 99):
        out[f"run start->end seen P{p}"] = _pct(ends, p)
    out |= {"makespan": makespan, "controller CPU": r["cpu_s"],
            "controller CPU / makespan": r["cpu_s"] / makespan,
            "controller peak RSS": r["rss_peak_kb"] / 1024,
            "controller RSS growth": (r["rss_peak_kb"] - r["rss_start_kb"]) / 1024}
    return out


UNITS = {"Jobs created/s": "/s", "makespan": "s", "controller CPU": "s", "controller peak RSS": "MiB",
         "controller RSS growth": "MiB", "plan time": "s"}


def report(n: int, plan: tuple[int, float] | None, base: dict[str, Any] | None,
           nj: dict[str, Any] | None) -> list[str]:
    """The figures of one N as a markdown table (baseline, nativejobs, ratio)."""
    lines = [f"### {n} steps", "", "| figure | baseline | nativejobs | ratio |", "|---|---:|---:|---:|"]
    if plan is not None:
        lines.append(f"| plan time | | {plan[1]:.3f} s ({plan[0]} steps) | |")
    if base is None or nj is None:
        for way, r in (("baseline", base), ("nativejobs", nj)):
            if r is not None:
                lines += [f"| {name} ({way} only) | {_fmt(v)} {_unit(name)} | | |"
                          for name, v in figures(r, n).items()]
        return lines
    fb, fn = figures(base, n), figures(nj, n)
    for name in fb:
        unit = _unit(name)
        ratio = fn[name] / fb[name] if fb[name] else math.nan
        lines.append(f"| {name} | {_fmt(fb[name])} {unit} | {_fmt(fn[name])} {unit} | {ratio:.2f} |")
    overhead = (fn["makespan"] - fb["makespan"]) / fn["makespan"]
    lines.append(f"| overhead (of the nativejobs run) | | {overhead:.1%} "
                 f"({fn['makespan'] - fb['makespan']:+.1f} s) | |")
    gaps = [b - a for a, b in zip([nj["t0"], *nj["passes"]], nj["passes"], strict=False)]
    lines.append(f"| reconcile passes (longest) | | {len(gaps)} ({max(gaps, default=0):.1f} s) | |")
    lines.append(f"| failed / retried steps | {base['failed']} / 0 | {nj['failed']} / {nj['retried']} | |")
    lines.append(f"| requests by verb | {_verbs(base)} | {_verbs(nj)} | |")
    lines.append(f"| namespace cleanup after | {base['cleanup_s']:.0f} s | {nj['cleanup_s']:.0f} s | |")
    return lines


def _unit(name: str) -> str:
    return UNITS.get(name, "s" if "->" in name else "")


def _fmt(v: float) -> str:
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"


def control_plane_flags() -> list[str]:
    """The throughput settings of a scripts/cluster.sh cluster's servers, from their command lines."""
    state = os.environ.get("NATIVEJOBS_CLUSTER_DIR")
    out = []
    for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        try:
            pid = Path(state or "", "run", f"{name}.pid").read_text().strip()
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        except (OSError, ValueError):
            continue
        tuned = [f"{a} {b}" if not a.count("=") and b and not b.startswith("--") else a
                 for a, b in zip(argv, [*argv[1:], ""], strict=True)
                 if a.startswith("--") and any(w in a for w in ("qps", "burst", "concurrent", "inflight",
                                                                 "priority-and-fairness"))]
        out.append(f"{name}: {' '.join(tuned) or 'defaults'}")
    return out


def _verbs(r: dict[str, Any]) -> str:
    return " ".join(f"{k} {v}" for k, v in sorted(r["requests"].items()))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    if args.command == "_phase":
        result = _phase_baseline(args) if args.way == "baseline" else _phase_nativejobs(args)
        Path(args.out).write_text(json.dumps(result))
        return 0
    load = os.getloadavg()
    print(f"# bench/scale.py: {' '.join(sys.argv[1:])}\n\nmachine: {os.cpu_count()} CPUs, "
          f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} at start; pod duration "
          f"{args.duration}; poll {args.poll} s; nativejobs launch concurrency "
          f"{args.launch_concurrency or 'default (8)'}", flush=True)
    for line in control_plane_flags():
        print(f"control plane: {line}")
    print(flush=True)
    try:
        cluster = None if args.plan_only else Cluster()
    except kubeconfig.ConfigException as e:
        print(f"bench/scale.py: no cluster to run on ({e}); start one with "
              '`eval "$(scripts/cluster.sh up)"`, or pass --plan-only', file=sys.stderr)
        return 2
    tag = uuid.uuid4().hex[:6]
    failed = False
    try:
        if cluster is not None:
            cluster.add_nodes(args.nodes, tag)
        for n in args.steps:
            plan = plan_time(n)
            base = nj = None
            if cluster is not None:
                ran = {way: run_way(way, n, args, cluster, tag) for way in args.ways}
                base, nj = ran.get("baseline"), ran.get("nativejobs")
                failed |= any(r["failed"] for r in ran.values())
            print("\n".join(report(n, plan, base, nj)) + "\n", flush=True)
    finally:
        if cluster is not None:
            cluster.remove_nodes()
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    return 1 if failed else 0


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", nargs="?", default="run", choices=["run", "_phase"],
                   help=argparse.SUPPRESS)
    p.add_argument("way", nargs="?", choices=["baseline", "nativejobs"], help=argparse.SUPPRESS)
    p.add_argument("--steps", type=int, nargs="+", default=[100, 1000, 10000],
                   help="plan sizes (default: 100 1000 10000)")
    p.add_argument("--duration", default="10s", help="how long each pod runs (default: 10s)")
    p.add_argument("--poll", type=float, default=0.5,
                   help="the controller's seconds between passes (default 0.5, as a live submit)")
    p.add_argument("--max-parallel", type=int, default=0, help="default: every step at once")
    p.add_argument("--launch-concurrency", type=int, default=0,
                   help="nativejobs: Job creates in flight at once (default: the backend's, 8)")
    p.add_argument("--nodes", type=int, default=4, help="fake GPU nodes to add (default 4)")
    p.add_argument("--store", default="",
                   help="the run store (default: a temp dir; s3://... for MinIO or S3)")
    p.add_argument("--timeout", type=float, default=3600, help="seconds allowed each way and N")
    p.add_argument("--cleanup-timeout", type=float, default=1800,
                   help="seconds to wait for a run's namespace to be deleted before the next run")
    p.add_argument("--plan-only", action="store_true", help="time the planner only: no cluster")
    p.add_argument("--ways", nargs="+", choices=["baseline", "nativejobs"],
                   default=["baseline", "nativejobs"], help="which runs, in this order (default: both)")
    p.add_argument("--namespace", help=argparse.SUPPRESS)
    p.add_argument("--name", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.command == "_phase":
        args.steps = args.steps[0]
    return args


if __name__ == "__main__":
    sys.exit(main())
