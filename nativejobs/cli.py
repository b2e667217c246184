"""The ``nativejobs`` command: parse, call the library, render with rich.

Exit codes: 0 ok, 1 the run failed, 2 bad input (spec, arguments, unknown run), 130 interrupted.
``main`` is the one error boundary: a usage error is click's usage message (exit 2), one of our
errors is plain lines (never read as rich markup), anything else is a bug: one line and a hint
to rerun with ``--debug`` for the traceback (exit 1).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from nativejobs.errors import (
    NativeJobsError,
    RunFailedError,
    SpecError,
    StoreError,
    StoreNotFoundError,
    short_repr,
    short_text,
)
from nativejobs.orchestrate import Orchestrator, RunStatus, State
from nativejobs.plan import Plan, Step, build_plan, estimate_gpu_hours
from nativejobs.report import REPORT_FORMATS, ReportInputError, import_report, run_results
from nativejobs.spec import (
    NAME_PATTERN,
    NAME_RULE,
    STEP_KINDS,
    ExperimentSpec,
    check_store_uri,
    default_store_uri,
    load_spec,
)
from nativejobs.store import FileStore, Store, open_store, step_dir

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Run native-vs-translated instruction-tuning studies.")
out = Console()
err = Console(stderr=True)
_DEBUG = {"on": False}

SpecArg = Annotated[Path, typer.Argument(help="experiment spec (YAML)", show_default=False)]
StoreOpt = Annotated[str | None, typer.Option("--store", help="store URI (default: the spec's, "
                                              "$NATIVEJOBS_STORE, or ./.nativejobs/store)")]


_MAX_LINE = 500  # characters of one error line; values in it are quoted shorter still
_MAX_LINES = 40


def _print_error(message: str) -> None:
    """``message`` as ``error:`` lines on stderr: plain text (user text may hold ``[...]``)."""
    lines = message.splitlines() or [""]
    if len(lines) > _MAX_LINES:
        lines = [*lines[: _MAX_LINES - 1], f"... and {len(lines) - _MAX_LINES + 1} more lines"]
    for line in lines:
        err.print(Text.assemble(("error:", "red"), " ", short_text(line, _MAX_LINE)),
                  highlight=False, soft_wrap=True)


def _fail(message: str, code: int) -> NoReturn:
    _print_error(message)
    raise typer.Exit(code)


def _default_store(store: str | None, spec: ExperimentSpec | None = None) -> Store:
    """The store of ``--store``, else the spec's, else the default; checked before it is used.

    Raises: typer.Exit(2) if the URI is malformed or names a file rather than a folder.
    """
    uri = store or (spec.store_uri() if spec else default_store_uri())
    what = "--store" if store else "store" if spec and spec.store else "NATIVEJOBS_STORE"
    try:
        check_store_uri(uri)
    except SpecError as e:
        _fail(str(e).replace("store:", f"{what}:", 1), 2)
    st = open_store(uri)
    if isinstance(st, FileStore):  # the store or the nearest existing folder above it
        there = next((p for p in (st.root, *st.root.parents) if p.exists()), st.root)
        if not there.is_dir():
            _fail(f"{what}: {short_repr(str(there))} is a file, not a folder; give a folder "
                  "(it is created if missing) or an s3:// URI", 2)
    return st


def _store_option(store: str | None) -> str | None:
    """``--store`` as given, checked as a spec's store is. Raises: typer.Exit(2) if malformed."""
    if store is not None:
        try:
            check_store_uri(store)
        except SpecError as e:
            _fail(str(e).replace("store:", "--store:", 1), 2)
    return store


def _check_backend(backend: str) -> None:
    if backend not in ("local", "k8s"):
        _fail(f"--backend: got {short_repr(backend)}; use local or k8s", 2)


def _check_name(name: str) -> str:
    """A run NAME argument: what a spec's ``name`` may be. Raises: typer.Exit(2) if not."""
    if not re.match(NAME_PATTERN, name):
        _fail(f"NAME: got {short_repr(name)}; {NAME_RULE}", 2)
    return name


def _load(spec_path: Path) -> tuple[ExperimentSpec, Plan]:
    spec = load_spec(spec_path)
    return spec, build_plan(spec)


@app.callback()
def _main(debug: Annotated[bool, typer.Option("--debug", help="show tracebacks")] = False) -> None:
    _DEBUG["on"] = debug


@app.command()
def validate(spec: SpecArg) -> None:
    """Check a spec and say what it describes."""
    s, plan = _load(spec)
    counts = plan.counts()
    out.print(f"[green]ok[/green] {s.name}: {len(s.languages)} languages × {len(s.conditions)} "
              f"conditions × {len(s.models)} models × {len(s.arms)} arms → {counts['train']} "
              f"training runs, {counts['evaluate']} evaluations over {len(s.benchmarks)} "
              f"benchmarks, {len(plan.steps)} steps")


@app.command()
def sources(spec: SpecArg) -> None:
    """Check that every benchmark source of a spec loads (files parsed, hub ids looked up)."""
    from nativejobs.benchmarks import check_sources

    checks = check_sources(load_spec(spec))
    table = Table(title=Text(f"benchmark sources of {spec}"))
    for col in ("benchmark", "language", "split", "source", "status", "detail"):
        table.add_column(col)
    colour = {"ok": "green", "error": "red", "unchecked": "yellow"}
    for c in checks:
        table.add_row(c.benchmark, c.language, c.split, Text(c.source),
                      Text(c.status, style=colour[c.status]), Text(c.message))
    out.print(table)
    if bad := [c for c in checks if c.status == "error"]:
        raise RunFailedError(f"{len(bad)} of {len(checks)} benchmark sources do not load; see the table")


def _done_keys(plan: Plan, store: Store) -> set[str]:
    return {s.key for s in plan.steps if store.is_done(s.kind, s.key)}


def _plan_table(plan: Plan, store: Store, spec: ExperimentSpec, done: set[str]) -> Table:
    hours = estimate_gpu_hours(plan, spec, only={s.key for s in plan.steps} - done)
    table = Table(title=Text(f"plan {plan.name} ({store.uri})"))
    for col in ("step", "steps", "done", "to run", "GPU-h to run"):
        table.add_column(col, justify="left" if col == "step" else "right")
    for kind in STEP_KINDS:
        keys = [s.key for s in plan.steps if s.kind == kind]
        n_done = sum(k in done for k in keys)
        table.add_row(kind, str(len(keys)), str(n_done), str(len(keys) - n_done),
                      f"{hours.get(kind, 0.0):g}")
    table.add_row("[bold]total", str(len(plan.steps)), str(len(done)),
                  str(len(plan.steps) - len(done)), f"{sum(hours.values()):g}")
    return table


@app.command()
def plan(spec: SpecArg, store: StoreOpt = None,
         steps: Annotated[bool, typer.Option("--steps", help="list every step")] = False) -> None:
    """Show the DAG of steps a spec makes and which are already done."""
    s, p = _load(spec)
    st = _default_store(store, s)
    done = _done_keys(p, st)  # one store read per step, shared by both tables
    out.print(_plan_table(p, st, s, done))
    if steps:
        table = Table()
        for col in ("kind", "key", "what", "done"):
            table.add_column(col)
        for step in p.steps:
            table.add_row(step.kind, step.key[:12], step.title, "✓" if step.key in done else "")
        out.print(table)


@app.command()
def render(spec: SpecArg, store: StoreOpt = None,
           cluster_config: ClusterConfigOpt = None, namespace: NamespaceOpt = None,
           output: Annotated[Path | None, typer.Option("--output", "-o", help="write to a file")] = None,
           ) -> None:
    """Print the Kubernetes Jobs of a study (attempt 1 of every step), for GitOps or review."""
    _store_option(store)
    from nativejobs.k8s.config import load_cluster_config
    from nativejobs.k8s.render import render_plan, to_yaml

    s, p = _load(spec)
    _note_local_inputs(s)
    config = load_cluster_config(cluster_config)
    if namespace:
        config = config.model_copy(update={"namespace": namespace})
    _emit(to_yaml(render_plan(p, config, store_uri=store or s.store_uri())), "yaml", output)


@app.command()
def doctor(store: StoreOpt = None, cluster_config: ClusterConfigOpt = None,
           namespace: NamespaceOpt = None, kubeconfig: KubeconfigOpt = None,
           kube: Annotated[bool, typer.Option(help="also check the cluster identity and RBAC")] = True,
           ) -> None:
    """Check an install: the store round-trips an object; the controller may do what it needs
    on the cluster (and may not read Secrets). `helm test` runs this in the cluster."""
    _store_option(store)
    from nativejobs.k8s.config import load_cluster_config
    from nativejobs.k8s.doctor import doctor as run_checks

    config = load_cluster_config(cluster_config)
    if namespace:
        config = config.model_copy(update={"namespace": namespace})
    if endpoint := os.environ.get("AWS_ENDPOINT_URL"):  # the chart's endpoint is in-cluster DNS
        access = config.store.model_copy(update={"endpoint_url": endpoint})
        config = config.model_copy(update={"store": access})
    checks = run_checks(config, store or default_store_uri(), kube=kube, kubeconfig=kubeconfig)
    for c in checks:
        mark = ("ok  ", "green") if c.ok else ("FAIL", "red")
        out.print(Text.assemble(mark, f" {c.name}{': ' + c.detail if c.detail else ''}"),
                  highlight=False)
    if not all(c.ok for c in checks):
        raise typer.Exit(1)


def _note_local_inputs(spec: ExperimentSpec) -> None:
    from nativejobs.host_inputs import local_inputs

    if found := local_inputs(spec):
        err.print(f"note: {len(found)} input path(s) are on this machine; their Jobs read the copy "
                  "that `submit --backend k8s` uploads to the store (inputs/host/...):",
                  highlight=False, markup=False)
        for field, path in found:
            err.print(f"  {field}: {path}", highlight=False, markup=False)


def _upload_local_inputs(spec: ExperimentSpec, store: Store) -> None:
    """A cluster run never depends on the submitter's disk: its local inputs go to the store."""
    from nativejobs.host_inputs import MIRROR_PREFIX, upload_host_inputs

    if sent := upload_host_inputs(spec, store):
        err.print(f"uploaded {len(sent)} local input file(s) to {store.uri}/{MIRROR_PREFIX}",
                  highlight=False, markup=False)


def _record_run(store: Store, spec: ExperimentSpec, plan: Plan) -> None:
    store.put_json(f"runs/{plan.name}/run.json", {
        "name": plan.name, "submitted_at": time.time(), "spec": spec.model_dump(mode="json"),
        "summary": plan.summary.ref,
        "steps": [{"kind": s.kind, "key": s.key, "labels": s.labels,
                   "inputs": [i.key for i in s.inputs]} for s in plan.steps]})


class _Progress:
    """Renders reconcile passes and step events with rich."""

    def __init__(self, plan: Plan) -> None:
        self.plan, self.started = plan, {}  # type: dict[str, float]
        self.status: RunStatus | None = None
        self.t0 = time.monotonic()

    def event(self, what: str, step: Step, detail: str) -> None:
        if what == "launched":
            self.started[step.key] = time.monotonic()
            return
        took = time.monotonic() - self.started.pop(step.key, time.monotonic())
        mark = ("✓", "green") if what == "succeeded" else ("✗", "red")
        out.print(Text.assemble(mark, f" {step.kind:<9} {step.title} ",
                                (f"({took:.1f}s) {detail}", "dim")), highlight=False)

    def table(self) -> Table:
        table = Table(title=f"{self.plan.name}: {time.monotonic() - self.t0:.0f}s", title_justify="left")
        for col in ("step", "done", "running", "waiting", "failed", "total"):
            table.add_column(col, justify="left" if col == "step" else "right")
        states = self.status.states if self.status else {}
        for kind in STEP_KINDS:
            mine = [states.get(s.key) for s in self.plan.steps if s.kind == kind]
            c = {st: mine.count(st) for st in State}
            table.add_row(kind, str(c[State.DONE]), str(c[State.RUNNING]),
                          str(c[State.WAITING] + c[State.READY]),
                          str(c[State.FAILED] + c[State.BLOCKED]), str(len(mine)))
        return table


def _raise_interrupt(*_: Any) -> None:
    raise KeyboardInterrupt


BackendOpt = Annotated[str, typer.Option(help="where steps run: local (processes here) or k8s (Jobs)")]
NamespaceOpt = Annotated[str | None, typer.Option(
    help="k8s: namespace of the chart's install (default: the cluster config's, else nativejobs)")]
ClusterConfigOpt = Annotated[Path | None, typer.Option(
    help="k8s: cluster settings file (default: the chart's ConfigMap in the namespace)")]
KubeconfigOpt = Annotated[Path | None, typer.Option(help="k8s: kubeconfig (default: $KUBECONFIG)")]


@app.command()
def submit(spec: SpecArg, store: StoreOpt = None, backend: BackendOpt = "local",
           max_parallel: Annotated[int | None, typer.Option(min=1, help="steps at once")] = None,
           namespace: NamespaceOpt = None, cluster_config: ClusterConfigOpt = None,
           kubeconfig: KubeconfigOpt = None,
           detach: Annotated[bool, typer.Option(
               help="k8s: run the controller itself as a Job in the cluster and return")] = False) -> None:
    """Run a study; finished steps are never redone, so submitting again resumes."""
    _check_backend(backend)
    if detach and backend != "k8s":
        _fail("--detach: needs --backend k8s (the controller runs as a Job in the cluster)", 2)
    s, p = _load(spec)
    st = _default_store(store, s)
    if backend == "k8s" and not st.uri.startswith("s3://"):
        _fail(f"--store: got {st.uri!r}; Jobs on a cluster need a store they can reach: "
              "an s3:// URI (spec `store:` or --store)", 2)
    if backend == "k8s":
        _upload_local_inputs(s, st)
    _record_run(st, s, p)
    st.delete(_cancel_path(p.name))  # a new submit overrides an earlier cancel
    if detach:
        from nativejobs.k8s.driver import submit_driver

        where = submit_driver(s.name, st.uri, namespace=namespace, cluster_config=cluster_config,
                              kubeconfig=kubeconfig, max_parallel=max_parallel)
        out.print(f"{p.name}: the controller runs in the cluster as {where}. Follow it with "
                  f"`nativejobs status {p.name} --store {st.uri}`; stop it with "
                  f"`nativejobs cancel {p.name} --store {st.uri}`.", markup=False)
        return
    if backend == "local":
        from nativejobs.backends.local import LocalBackend, log_dir_for
        from nativejobs.engines.models import cache_dir

        parallel = max_parallel or s.execution.max_parallel
        runner: Any = LocalBackend(log_dir=log_dir_for(cache_dir(), st.uri),
                                   threads_per_step=max(1, (os.cpu_count() or 1) // parallel))
    else:
        from nativejobs.k8s.backend import open_backend

        runner = open_backend(s.name, namespace=namespace, cluster_config=cluster_config,
                              kubeconfig=kubeconfig)
    _drive(s, p, st, runner, max_parallel=max_parallel, resume_hint=f"nativejobs submit {spec}",
           live=True)


@app.command(hidden=True)
def drive(name: Annotated[str, typer.Argument(help="experiment name")], store: StoreOpt = None,
          namespace: NamespaceOpt = None, cluster_config: ClusterConfigOpt = None,
          max_parallel: Annotated[int | None, typer.Option(min=1)] = None) -> None:
    """The in-cluster controller of `submit --detach`: runs the recorded spec on Jobs."""
    from nativejobs.k8s.backend import open_backend

    st = _default_store(store)
    s = ExperimentSpec.model_validate(_run_record(st, name)["spec"])
    if st.exists(_cancel_path(name)):  # a restarted driver of a cancelled run: nothing to do
        out.print(f"{name}: cancelled; submit again to continue")
        return
    runner = open_backend(s.name, namespace=namespace, cluster_config=cluster_config, kubeconfig=None)
    try:
        _drive(s, build_plan(s), st, runner, max_parallel=max_parallel,
               resume_hint="nativejobs submit SPEC --backend k8s --detach", live=False)
    except _Cancelled:
        out.print(f"{name}: cancelled (runs/{name}/cancel.json); its Jobs are deleted, finished steps kept")


class _Cancelled(Exception):
    pass


def _cancel_path(name: str) -> str:
    return f"runs/{name}/cancel.json"


def _drive(s: ExperimentSpec, p: Plan, st: Store, runner: Any, *, max_parallel: int | None,
           resume_hint: str, live: bool) -> None:
    """Reconcile ``p`` on ``runner`` to the end, showing progress; Ctrl-C and `cancel` stop it."""
    parallel = max_parallel or s.execution.max_parallel
    progress = _Progress(p)
    orch = Orchestrator(p, st, runner, max_parallel=parallel, retries=s.execution.retries,
                        on_event=progress.event)
    done = _done_keys(p, st)
    todo = [x for x in p.steps if x.key not in done]
    if not todo:
        out.print(f"{p.name}: all {len(p.steps)} steps are already done; nothing to run")
        _emit(_run_results(st, p.name, "md"), "md")
        return
    if retried := orch.forgive_failures():
        out.print(f"retrying {len(retried)} step(s) that failed in an earlier submit")
    out.print(f"{p.name}: {len(p.steps) - len(todo)} of {len(p.steps)} steps already done; "
              f"running {len(todo)} with up to {parallel} at once (store {st.uri})", markup=False)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored (`&`)
    watcher = _LiveStatus(st, p.name, runner)
    # In a pod (not live) the step lines alone go to the log; a redrawn table would be noise.
    screen = Live(progress.table(), console=out, refresh_per_second=2, transient=True) if live else None
    try:
        with screen or contextlib.nullcontext():
            def on_pass(status: RunStatus) -> None:
                progress.status = status
                if screen:
                    screen.update(progress.table())
                if watcher.pass_(status):
                    raise _Cancelled
            status = orch.run(st.uri, on_pass=on_pass, poll_s=0.5 if live else 2.0)
    except KeyboardInterrupt:
        if runner.outlives_controller:  # a cluster's Jobs: a resubmit adopts them
            _fail(f"interrupted; Jobs keep running and finished steps are kept. Run `{resume_hint}` to "
                  f"follow them again, or `nativejobs cancel {p.name}` to stop them.", 130)
        runner.cancel_all()
        _fail(f"interrupted; finished steps are kept. Run `{resume_hint}` to continue.", 130)
    except _Cancelled:
        runner.cancel_all()
        if not live:
            raise  # the in-cluster driver: a cancel is a clean end, not a failure to retry
        _fail(f"{p.name}: cancelled (runs/{p.name}/cancel.json); finished steps are kept", 1)
    except Exception:  # e.g. the store turned read-only: local steps must not run on orphaned
        if not runner.outlives_controller:
            with contextlib.suppress(Exception):
                runner.cancel_all()
        raise
    out.print(progress.table())
    if not status.succeeded:
        for key, why in status.failures.items():
            step = p.by_key()[key]
            err.print(Text.assemble(("failed", "red"), f" {step.kind} {step.title} ({key[:12]}): "
                                    f"{why}; see `nativejobs logs {p.name} {key[:12]}`"),
                      highlight=False)
        blocked = sum(v is State.BLOCKED for v in status.states.values())
        _emit(_run_results(st, p.name, "md"), "md")  # what is done, and the completeness table
        raise RunFailedError(f"{len(status.failures)} step(s) failed, {blocked} blocked by them")
    if live:
        _emit(_run_results(st, p.name, "md"), "md")
    else:  # a pod's log: the report is one command away, from anywhere with store access
        out.print(f"{p.name}: all {len(p.steps)} steps done; see `nativejobs results {p.name} "
                  f"--store {st.uri}`", markup=False)


class _LiveStatus:
    """Shares what only the controller sees (why steps wait) through the store, and notices a
    cancel request there; both at most every few seconds, so a pass stays cheap on S3."""

    def __init__(self, store: Store, name: str, runner: Any, every_s: float = 5.0) -> None:
        self.store, self.name, self.runner, self.every_s = store, name, runner, every_s
        self._last_check = 0.0
        self._written: dict[str, str] | None = None

    def pass_(self, status: RunStatus) -> bool:
        """Publish pending reasons if they changed; True when a cancel was requested."""
        if time.monotonic() - self._last_check < self.every_s:
            return False
        self._last_check = time.monotonic()
        pending: dict[str, str] = dict(getattr(self.runner, "pending", {}))
        if pending != self._written:
            self.store.put_json(f"runs/{self.name}/live.json",
                                {"updated_at": time.time(), "pending": pending})
            self._written = pending
        return self.store.exists(_cancel_path(self.name))


@contextlib.contextmanager
def _readable(store: Store, name: str) -> Any:
    """A run's stored JSON that does not parse (a truncated write, a damaged disk) is named as
    such, not reported as a bug of ours."""
    try:
        yield
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise StoreError(f"run {name!r} in {store.uri}: a stored file is damaged (not JSON: "
                         f"{short_text(str(e))}); run with --debug to see which") from e


def _run_record(store: Store, name: str) -> dict[str, Any]:
    _check_name(name)  # a run's name is a spec's: a path-safe label, never a path
    try:
        with _readable(store, name):
            return store.get_json(f"runs/{name}/run.json")
    except StoreNotFoundError:
        raise StoreNotFoundError(f"no run named {name!r} in {store.uri}; check the name or "
                                 "pass --store") from None


def _attempts(store: Store, name: str) -> dict[str, Any]:
    path = f"runs/{name}/attempts.json"
    with _readable(store, name):
        return store.get_json(path) if store.exists(path) else {}


def _run_results(store: Store, name: str, fmt: str) -> str:
    run = _run_record(store, name)
    with _readable(store, name):
        return run_results(store, run, fmt, attempts=_attempts(store, name))


def _emit(text: str, fmt: str, output: Path | None = None) -> None:
    if output:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as e:
            _fail(f"--output: cannot write {short_repr(str(output))} ({e.strerror or e}); give a "
                  "file in an existing, writable folder", 2)
        out.print(Text(f"wrote {output}"))
    elif fmt == "md":
        out.print(text, markup=False, highlight=False, soft_wrap=True)
    else:
        sys.stdout.write(text)


@app.command()
def results(
    name: Annotated[str | None, typer.Argument(help="experiment name")] = None,
    store: StoreOpt = None,
    format: Annotated[str, typer.Option("--format", "-f", help="md, csv, json or html")] = "md",
    imports: Annotated[list[Path] | None, typer.Option(
        "--import", help="record file (csv/json/jsonl) to put beside the run's; repeatable")] = None,
    kind: Annotated[list[str] | None, typer.Option(
        "--kind", help="NAME=native|translated|round_trip for an imported condition")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write to a file")] = None,
    pair: Annotated[list[str] | None, typer.Option(
        "--pair", help="RTT=SINGLE: a round-trip condition's single-pass partner, e.g. "
        "google-rtt=google; repeatable")] = None,
    what: Annotated[str, typer.Option(
        "--what", help="with --format json: records (flat) or analysis (ΔS, r, CIs, RTT pairs, "
        "summaries)")] = "records",
) -> None:
    """Results: scores with ΔS and CIs, r per benchmark, summaries, round trips, completeness;
    md, csv, json or html."""
    from nativejobs.report import check_what, pairs_from_conditions

    if format not in REPORT_FORMATS:
        _fail(f"--format: got {short_repr(format)}; use one of {', '.join(REPORT_FORMATS)}", 2)
    if name is None and not imports:
        _fail("results: give an experiment NAME, or --import FILE", 2)
    for flag, values, usage in (("--kind", kind, "NAME=KIND, e.g. google=translated"),
                                ("--pair", pair, "RTT=SINGLE, e.g. google-rtt=google")):
        if bad := [k for k in values or [] if "=" not in k]:
            _fail(f"{flag}: got {short_repr(bad[0])}; use {usage}", 2)
    check_what(what, format)
    kinds = dict(k.split("=", 1) for k in kind or [])
    pairs = dict(p.split("=", 1) for p in pair or [])
    if not imports:
        assert name is not None
        st = _default_store(store)
        _emit(run_results(st, _run_record(st, name), format, what=what,
                          attempts=_attempts(st, name)), format, output)
        return
    own: list[dict[str, Any]] = []
    if name:
        st = _default_store(store)
        run = _run_record(st, name)
        own = json.loads(_run_results(st, name, "json"))
        kinds = {c["name"]: c["kind"] for c in run["spec"]["conditions"]} | kinds
        pairs = pairs_from_conditions(run["spec"]["conditions"]) | pairs
    _emit(import_report(imports, format, kinds=kinds, pairs=pairs, with_records=own, what=what),
          format, output)


@app.command()
def status(name: Annotated[str, typer.Argument(help="experiment name")], store: StoreOpt = None) -> None:
    """Show how far a run has got, step by step, and why waiting steps wait."""
    st = _default_store(store)
    run = _run_record(st, name)
    attempts = _attempts(st, name)
    live_path = f"runs/{name}/live.json"
    pending: dict[str, str] = st.get_json(live_path)["pending"] if st.exists(live_path) else {}
    table = Table(title=Text(f"{name} ({st.uri})"))
    for col in ("kind", "key", "what", "state", "attempts", "why"):
        table.add_column(col)
    for s in run["steps"]:
        tries = attempts.get(s["key"], [])
        done = st.is_done(s["kind"], s["key"])
        state = "done" if done else (tries[-1]["outcome"] if tries else "not run")
        why = "" if done else pending.get(s["key"], tries[-1]["reason"] if tries else "")
        table.add_row(s["kind"], s["key"][:12], Text(" ".join(s["labels"].values())), state,
                      str(len(tries)), Text(why))
    out.print(table)
    if st.exists(_cancel_path(name)):
        out.print(f"{name}: cancel requested; the controller stops its Jobs on its next pass")


@app.command()
def cancel(name: Annotated[str, typer.Argument(help="experiment name")], store: StoreOpt = None,
           backend: BackendOpt = "local", namespace: NamespaceOpt = None,
           kubeconfig: KubeconfigOpt = None) -> None:
    """Stop a run: its controller (here or in the cluster) deletes its Jobs; with --backend k8s
    they are deleted right away too. Finished steps are kept; submit again to continue."""
    _check_backend(backend)
    st = _default_store(store)
    _run_record(st, name)  # a typo'd name fails here, not silently
    st.put_json(_cancel_path(name), {"requested_at": time.time()})
    if backend == "k8s":
        from nativejobs.k8s.backend import delete_jobs
        from nativejobs.k8s.client import KubeClient

        kube = KubeClient(namespace or "nativejobs", kubeconfig_path=kubeconfig)
        delete_jobs(kube, name)
        out.print(f"{name}: deleted its Jobs in namespace {kube.namespace}")
    out.print(f"{name}: cancel requested; finished steps are kept")


@app.command()
def logs(name: Annotated[str, typer.Argument(help="experiment name")],
         step: Annotated[str, typer.Argument(help="step key (a prefix is enough)")],
         store: StoreOpt = None,
         backend: Annotated[str, typer.Option(
             help="k8s: the log of the step's running pod, from the cluster")] = "local",
         namespace: NamespaceOpt = None, kubeconfig: KubeconfigOpt = None) -> None:
    """Print the log of a step's latest attempt (a running one's too, with --backend k8s)."""
    _check_backend(backend)
    st = _default_store(store)
    run = _run_record(st, name)
    matches = [s for s in run["steps"] if s["key"].startswith(step.split("/")[-1])]
    if len(matches) != 1:
        _fail(f"step {short_repr(step)} matches {len(matches)} steps of {name}; give more of the key", 2)
    s = matches[0]
    if backend == "k8s":
        from nativejobs.k8s.backend import pod_log
        from nativejobs.k8s.client import KubeClient

        kube = KubeClient(namespace or "nativejobs", kubeconfig_path=kubeconfig)
        text = pod_log(kube, s["key"])
        if text is None:
            _fail(f"step {s['key'][:12]} has no pod in namespace {kube.namespace}", 2)
        sys.stdout.write(text)
        return
    attempts = _step_logs(st, s["kind"], s["key"])
    if not attempts:
        _fail(f"step {s['key'][:12]} has no logs yet", 2)
    sys.stdout.write(attempts[max(attempts)]())


def _step_logs(st: Store, kind: str, key: str) -> dict[int, Callable[[], str]]:
    """Attempt number → reader of its log: the store's copy, else the local file (an attempt
    whose controller died before storing its log)."""
    from nativejobs.backends.local import log_dir_for
    from nativejobs.engines.models import cache_dir

    def number(name: str) -> int:
        return int(name.rsplit("-", 1)[1].removesuffix(".log"))

    local = log_dir_for(cache_dir(), st.uri).glob(f"{kind}-{key}-attempt-*.log")
    found: dict[int, Callable[[], str]] = {number(p.name): p.read_text for p in local}
    for path in st.list(f"{step_dir(kind, key)}/_logs"):
        found[number(path)] = lambda path=path: st.get_text(path)
    return found


def _click_exception() -> type[Exception]:
    """click's ClickException as typer uses it: typer >= 0.16 bundles its own click, whose
    classes are not ``click.ClickException`` (that mismatch let every usage error through)."""
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def _hoist_debug(args: list[str]) -> list[str]:
    """``--debug`` is accepted anywhere before ``--``, as a user types it: after the command too."""
    end = args.index("--") if "--" in args else len(args)
    if "--debug" not in args[:end]:
        return args
    return ["--debug", *(a for i, a in enumerate(args) if i >= end or a != "--debug")]


def _show_usage_error(e: Exception) -> NoReturn:
    """click's usage message (usage line, hint, ``Error: ...``), each line of bounded length."""
    buf = io.StringIO()
    e.show(file=buf)  # type: ignore[attr-defined]
    for line in buf.getvalue().rstrip("\n").splitlines()[:_MAX_LINES]:
        sys.stderr.write(short_text(line, _MAX_LINE) + "\n")
    sys.exit(getattr(e, "exit_code", 2))


def main(argv: list[str] | None = None) -> None:
    """Console entry point, the one error boundary: map every exception to an exit code and a
    short message; a traceback only with ``--debug``."""
    args = _hoist_debug(list(sys.argv[1:] if argv is None else argv))
    _DEBUG["on"] = args[:1] == ["--debug"]
    try:
        code = app(args=args, prog_name="nativejobs", standalone_mode=False)
    except _click_exception() as e:  # usage errors; typer.BadParameter from a callback too
        _show_usage_error(e)
    except (SpecError, ReportInputError, StoreNotFoundError) as e:  # bad input, unknown run
        _exit(e, 2)
    except NativeJobsError as e:  # RunFailedError, StoreError, BackendError: the run failed
        _exit(e, 1)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        sys.exit(130)
    except OSError as e:  # the machine's, not ours: a read-only store, a full disk
        where = f" ({short_repr(e.filename)})" if e.filename else ""
        _exit(e, 1, f"{e.strerror or e}{where}; run with --debug for the traceback")
    except Exception as e:
        _exit(e, 1, f"internal error ({type(e).__name__}: {short_text(str(e))}); this is a bug: "
                    "run with --debug for the traceback and report it")
    sys.exit(code if isinstance(code, int) else 0)


def _exit(e: BaseException, code: int, message: str | None = None) -> NoReturn:
    if _DEBUG["on"]:
        raise e
    _print_error(str(e) if message is None else message)
    sys.exit(code)
