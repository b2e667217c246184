"""The ``nativejobs`` command: parse, call the library, render with rich.

Exit codes (``nativejobs.exit_codes``): 0 ok, 1 the run failed, 2 bad input (spec, arguments,
unknown run), 130 interrupted.
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
import statistics
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from nativejobs.backends import BACKENDS, open_backend
from nativejobs.controller import Controller, RunCancelled, RunLease
from nativejobs.errors import (
    NativeJobsError,
    RunFailedError,
    SpecError,
    StoreNotFoundError,
    short_repr,
    short_text,
)
from nativejobs.exit_codes import EXIT_INTERRUPTED, EXIT_RUN_FAILED, EXIT_USAGE
from nativejobs.orchestrate import Backend, RunStatus, State
from nativejobs.plan import Plan, Step, build_plan, estimate_gpu_hours
from nativejobs.report import REPORT_FORMATS, ReportInputError, import_report, run_results
from nativejobs.runs import (
    RunRecord,
    RunState,
    StepStatus,
    done_keys,
    done_markers,
    step_records,
    step_statuses,
)
from nativejobs.spec import (
    NAME_PATTERN,
    NAME_RULE,
    STEP_KINDS,
    ExperimentSpec,
    check_store_uri,
    default_store_uri,
    load_spec,
)
from nativejobs.store import FileStore, Store, open_store

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
        err.print(Text.assemble(("error:", "red"), " ", short_text(line, _MAX_LINE - len("error: "))),
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
        _fail(str(e).replace("store:", f"{what}:", 1), EXIT_USAGE)
    st = open_store(uri)
    if isinstance(st, FileStore):  # the store or the nearest existing folder above it
        there = next((p for p in (st.root, *st.root.parents) if p.exists()), st.root)
        if not there.is_dir():
            _fail(f"{what}: {short_repr(str(there))} is a file, not a folder; give a folder "
                  "(it is created if missing) or an s3:// URI", EXIT_USAGE)
    return st


def _store_option(store: str | None) -> str | None:
    """``--store`` as given, checked as a spec's store is. Raises: typer.Exit(2) if malformed."""
    if store is not None:
        try:
            check_store_uri(store)
        except SpecError as e:
            _fail(str(e).replace("store:", "--store:", 1), EXIT_USAGE)
    return store


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        _fail(f"--backend: got {short_repr(backend)}; use {' or '.join(BACKENDS)}", EXIT_USAGE)


def _check_name(name: str) -> str:
    """A run NAME argument: what a spec's ``name`` may be. Raises: typer.Exit(2) if not."""
    if not re.match(NAME_PATTERN, name):
        _fail(f"NAME: got {short_repr(name)}; {NAME_RULE}", EXIT_USAGE)
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
    return done_keys(store, step_records(plan))  # a stale marker is not done


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
           release: ReleaseOpt = "nativejobs") -> None:
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
    checks = run_checks(config, store or default_store_uri(), kube=kube, kubeconfig=kubeconfig,
                        release=release)
    for c in checks:
        mark = ("ok  ", "green") if c.ok else ("FAIL", "red")
        out.print(Text.assemble(mark, f" {c.name}{': ' + c.detail if c.detail else ''}"),
                  highlight=False)
    if not all(c.ok for c in checks):
        raise typer.Exit(EXIT_RUN_FAILED)


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


def _release_name(release: str) -> str:
    from nativejobs.k8s.config import chart_fullname

    try:
        chart_fullname(release)
    except SpecError as e:
        raise typer.BadParameter(e.problems[0].removeprefix("--release: ")) from None
    return release


ReleaseOpt = Annotated[str, typer.Option(
    callback=_release_name, help="k8s: the chart's Helm release, whose ConfigMap holds the cluster settings")]


@app.command()
def submit(spec: SpecArg, store: StoreOpt = None, backend: BackendOpt = "local",
           max_parallel: Annotated[int | None, typer.Option(min=1, help="steps at once")] = None,
           namespace: NamespaceOpt = None, cluster_config: ClusterConfigOpt = None,
           kubeconfig: KubeconfigOpt = None, release: ReleaseOpt = "nativejobs",
           detach: Annotated[bool, typer.Option(
               help="k8s: run the controller itself as a Job in the cluster and return")] = False) -> None:
    """Run a study; finished steps are never redone, so submitting again resumes."""
    _check_backend(backend)
    if detach and backend != "k8s":
        _fail("--detach: needs --backend k8s (the controller runs as a Job in the cluster)", EXIT_USAGE)
    s, p = _load(spec)
    st = _default_store(store, s)
    if backend == "k8s" and not st.uri.startswith("s3://"):
        _fail(f"--store: got {st.uri!r}; Jobs on a cluster need a store they can reach: "
              "an s3:// URI (spec `store:` or --store)", EXIT_USAGE)
    run_state = RunState(st, p.name)
    lease = RunLease(run_state)
    lease.check()  # before anything is recorded: the running controller's run stays as it is
    if backend == "k8s":
        _upload_local_inputs(s, st)
    if detach:
        from nativejobs.k8s.driver import submit_driver

        run_state.put_record(RunRecord.of(s.model_dump(mode="json"), p, now=time.time()))
        where = submit_driver(s.name, st.uri, namespace=namespace, cluster_config=cluster_config,
                              kubeconfig=kubeconfig, max_parallel=max_parallel, release=release)
        out.print(f"{p.name}: the controller runs in the cluster as {where}. Follow it with "
                  f"`nativejobs status {p.name} --store {st.uri}`; stop it with "
                  f"`nativejobs cancel {p.name} --store {st.uri}`.", markup=False)
        return
    with lease:
        run_state.put_record(RunRecord.of(s.model_dump(mode="json"), p, now=time.time()))
        parallel = max_parallel or s.execution.max_parallel
        runner = open_backend(backend, experiment=s.name, store_uri=st.uri, max_parallel=parallel,
                              namespace=namespace, cluster_config=cluster_config, kubeconfig=kubeconfig,
                              release=release)
        _drive(s, p, st, runner, max_parallel=parallel, resume_hint=f"nativejobs submit {spec}",
               live=True, lease=lease)


@app.command(hidden=True)
def drive(name: Annotated[str, typer.Argument(help="experiment name")], store: StoreOpt = None,
          namespace: NamespaceOpt = None, cluster_config: ClusterConfigOpt = None,
          max_parallel: Annotated[int | None, typer.Option(min=1)] = None,
          release: ReleaseOpt = "nativejobs") -> None:
    """The in-cluster controller of `submit --detach`: runs the recorded spec on Jobs."""
    st = _default_store(store)
    s = ExperimentSpec.model_validate(_run_state(st, name).record().spec)
    if RunState(st, name).is_cancel_requested():  # a restarted driver of a cancelled run: nothing to do
        out.print(f"{name}: cancelled; submit again to continue")
        return
    parallel = max_parallel or s.execution.max_parallel
    try:
        with RunLease(RunState(st, name)) as lease:  # a new pod of this driver Job is the same holder
            runner = open_backend("k8s", experiment=s.name, store_uri=st.uri, max_parallel=parallel,
                                  namespace=namespace, cluster_config=cluster_config, release=release)
            _drive(s, build_plan(s), st, runner, max_parallel=parallel,
                   resume_hint="nativejobs submit SPEC --backend k8s --detach", live=False, lease=lease)
    except RunCancelled:  # a cancel is a clean end of the driver's Job, not a failure to retry
        out.print(f"{name}: cancelled (runs/{name}/cancel.json); its Jobs are deleted, finished steps kept")


def _drive(s: ExperimentSpec, p: Plan, st: Store, runner: Backend, *, max_parallel: int,
           resume_hint: str, live: bool, lease: RunLease) -> None:
    """Run ``p`` on ``runner`` to the end (``Controller``), showing progress.

    Raises: RunCancelled (the driver's clean end; live: exit 1), RunFailedError; typer.Exit(130)
    on Ctrl-C.
    """
    progress = _Progress(p)
    controller = Controller(p, st, runner, max_parallel=max_parallel, retries=s.execution.retries,
                            on_event=progress.event, lease=lease)
    todo = controller.todo()
    if not todo:
        out.print(f"{p.name}: all {len(p.steps)} steps are already done; nothing to run")
        _emit(_run_results(st, p.name, "md"), "md")
        return
    if retried := controller.forgive_failures():
        out.print(f"retrying {len(retried)} step(s) that failed in an earlier submit")
    out.print(f"{p.name}: {len(p.steps) - len(todo)} of {len(p.steps)} steps already done; "
              f"running {len(todo)} with up to {max_parallel} at once (store {st.uri})", markup=False)
    status = _run_showing(controller, progress, resume_hint=resume_hint, live=live)
    out.print(progress.table())
    if not status.succeeded:
        _report_failures(p, st, status)
    if live:
        _emit(_run_results(st, p.name, "md"), "md")
    else:  # a pod's log: the report is one command away, from anywhere with store access
        out.print(f"{p.name}: all {len(p.steps)} steps done; see `nativejobs results {p.name} "
                  f"--store {st.uri}`", markup=False)


def _run_showing(controller: Controller, progress: _Progress, *, resume_hint: str,
                 live: bool) -> RunStatus:
    """``controller.run`` with a live table (``live``; in a pod the step lines alone go to the
    log: a redrawn table would be noise); Ctrl-C and SIGTERM end it with exit 130."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored (`&`)
    screen = Live(progress.table(), console=out, refresh_per_second=2, transient=True) if live else None
    name = controller.plan.name

    def on_pass(status: RunStatus) -> None:
        progress.status = status
        if screen:
            screen.update(progress.table())

    try:
        with screen or contextlib.nullcontext():
            return controller.run(on_pass=on_pass, poll_s=0.5 if live else 2.0)
    except KeyboardInterrupt:
        if controller.backend.outlives_controller:  # a cluster's Jobs: a resubmit adopts them
            _fail(f"interrupted; Jobs keep running and finished steps are kept. Run `{resume_hint}` to "
                  f"follow them again, or `nativejobs cancel {name}` to stop them.", EXIT_INTERRUPTED)
        _fail(f"interrupted; finished steps are kept. Run `{resume_hint}` to continue.", EXIT_INTERRUPTED)
    except RunCancelled as e:
        if not live:
            raise
        _fail(str(e), EXIT_RUN_FAILED)


def _report_failures(p: Plan, st: Store, status: RunStatus) -> None:
    """Each failed step, what is done (with the completeness table). Raises: RunFailedError."""
    for key, why in status.failures.items():
        step = p.by_key()[key]
        err.print(Text.assemble(("failed", "red"), f" {step.kind} {step.title} ({key[:12]}): "
                                f"{why}; see `nativejobs logs {p.name} {key[:12]}`"), highlight=False)
    blocked = sum(v is State.BLOCKED for v in status.states.values())
    _emit(_run_results(st, p.name, "md"), "md")
    raise RunFailedError(f"{len(status.failures)} step(s) failed, {blocked} blocked by them")


def _run_state(store: Store, name: str) -> RunState:
    """The run ``name`` in ``store``. Raises: typer.Exit(2) if NAME is not a run's name."""
    return RunState(store, _check_name(name))  # a run's name is a spec's: a path-safe label


def _run_results(store: Store, name: str, fmt: str) -> str:
    run = _run_state(store, name)
    return run_results(store, run.record(), fmt, attempts=run.attempts())


def _emit(text: str, fmt: str, output: Path | None = None) -> None:
    if output:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as e:
            _fail(f"--output: cannot write {short_repr(str(output))} ({e.strerror or e}); give a "
                  "file in an existing, writable folder", EXIT_USAGE)
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
        _fail(f"--format: got {short_repr(format)}; use one of {', '.join(REPORT_FORMATS)}", EXIT_USAGE)
    if name is None and not imports:
        _fail("results: give an experiment NAME, or --import FILE", EXIT_USAGE)
    for flag, values, usage in (("--kind", kind, "NAME=KIND, e.g. google=translated"),
                                ("--pair", pair, "RTT=SINGLE, e.g. google-rtt=google")):
        if bad := [k for k in values or [] if "=" not in k]:
            _fail(f"{flag}: got {short_repr(bad[0])}; use {usage}", EXIT_USAGE)
    check_what(what, format)
    kinds = dict(k.split("=", 1) for k in kind or [])
    pairs = dict(p.split("=", 1) for p in pair or [])
    if not imports:
        assert name is not None
        st = _default_store(store)
        run = _run_state(st, name)
        _emit(run_results(st, run.record(), format, what=what, attempts=run.attempts()), format, output)
        return
    own: list[dict[str, Any]] = []
    if name:
        st = _default_store(store)
        conditions = _run_state(st, name).record().spec["conditions"]
        own = json.loads(_run_results(st, name, "json"))
        kinds = {c["name"]: c["kind"] for c in conditions} | kinds
        pairs = pairs_from_conditions(conditions) | pairs
    _emit(import_report(imports, format, kinds=kinds, pairs=pairs, with_records=own, what=what),
          format, output)


@app.command()
def status(name: Annotated[str, typer.Argument(help="experiment name")], store: StoreOpt = None,
           all_steps: Annotated[bool, typer.Option("--all", help="list done steps too")] = False,
           kind: Annotated[list[str] | None, typer.Option(
               help="list only steps of this kind (repeatable)")] = None) -> None:
    """Show how far a run has got: steps per kind and state, then every step not done yet
    (with --all, every step) with its attempts and why it waits."""
    if bad := [k for k in kind or [] if k not in STEP_KINDS]:
        _fail(f"--kind: got {short_repr(bad[0])}; use one of {', '.join(STEP_KINDS)}", EXIT_USAGE)
    st = _default_store(store)
    run_state = _run_state(st, name)
    run = run_state.record()
    took = done_markers(st, run.steps, lambda marker: marker.get("wall_s"))  # seconds each done step ran
    steps = step_statuses(run, run_state.attempts(), took.keys(), run_state.live().pending)
    pace = _pace(steps, took)
    out.print(_status_summary(steps, pace, title=f"{name} ({st.uri})"))
    of_kind = [s for s in steps if not kind or s.step.kind in kind]
    shown = [s for s in of_kind if all_steps or s.state != "done"]
    if shown:
        table = Table()
        for col in ("kind", "key", "what", "state", "attempts", "why"):
            table.add_column(col)
        for s in shown:
            table.add_row(s.step.kind, s.step.key[:12], Text(" ".join(s.step.labels.values())), s.state,
                          str(s.attempts), Text(s.why))
        out.print(table)
    else:
        which = f"{'/'.join(kind)} steps" if kind else "steps"
        out.print(f"{name}: no {which}" if not of_kind else
                  f"{name}: all {len(of_kind)} {which} done (--all lists them)", markup=False)
    if left := [s for s in steps if s.state != "done"]:
        out.print(f"{name}: {_time_left(left, pace)}", markup=False)
    if (lease := run_state.lease()) is not None:
        out.print(f"{name}: driven by {lease.describe(time.time())}", markup=False)
    if run_state.is_cancel_requested():
        out.print(f"{name}: cancel requested; the controller stops its Jobs on its next pass")


def _count(steps: list[StepStatus], state: str) -> int:
    return sum(s.state == state for s in steps)


def _pace(steps: list[StepStatus], took: Mapping[str, Any]) -> dict[str, float]:
    """Step kind -> median seconds its done steps ran (kinds with none measured left out)."""
    times: dict[str, list[float]] = {}
    for s in steps:
        if isinstance(wall := took.get(s.step.key), int | float) and not isinstance(wall, bool):
            times.setdefault(s.step.kind, []).append(float(wall))
    return {kind: statistics.median(ts) for kind, ts in times.items()}


def _duration(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}h {s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m {s % 60:02d}s" if s >= 60 \
        else f"{s}s"


def _time_left(left: list[StepStatus], pace: Mapping[str, float]) -> str:
    """The step time the steps not done would take at each kind's pace so far."""
    kinds = sorted({s.step.kind for s in left}, key=STEP_KINDS.index)
    timed, untimed = [k for k in kinds if k in pace], [k for k in kinds if k not in pace]
    parts = []
    if timed:
        known = sum(pace[s.step.kind] for s in left if s.step.kind in pace)
        parts.append(f"about {_duration(known)} ({', '.join(timed)})")
    if untimed:
        parts.append(f"not timed yet: {', '.join(untimed)}")
    return "step time left at the pace so far: " + "; ".join(parts)


def _status_summary(steps: list[StepStatus], pace: Mapping[str, float], *, title: str) -> Table:
    """Steps per kind (rows) and state (columns: done first, not run last, what occurs between),
    and the median time a done step of the kind ran."""
    present = {s.state for s in steps} - {"done", "not run"}
    states = ["done", *sorted(present), "not run"]
    table = Table(title=Text(title))
    for col in ("step", "steps", *states, "time/step"):
        table.add_column(col, justify="left" if col == "step" else "right")
    kinds = [k for k in STEP_KINDS if any(s.step.kind == k for s in steps)]
    for k in kinds:
        of_kind = [s for s in steps if s.step.kind == k]
        table.add_row(k, str(len(of_kind)), *(str(_count(of_kind, state)) for state in states),
                      _duration(pace[k]) if k in pace else "")
    table.add_row("total", str(len(steps)), *(str(_count(steps, state)) for state in states), "")
    return table


@app.command()
def cancel(name: Annotated[str, typer.Argument(help="experiment name")], store: StoreOpt = None,
           backend: BackendOpt = "local", namespace: NamespaceOpt = None,
           kubeconfig: KubeconfigOpt = None) -> None:
    """Stop a run: its controller (here or in the cluster) deletes its Jobs; with --backend k8s
    they are deleted right away too. Finished steps are kept; submit again to continue."""
    _check_backend(backend)
    st = _default_store(store)
    run_state = _run_state(st, name)
    run = run_state.record()  # a typo'd name fails here, not silently
    if len(done_keys(st, run.steps)) == len(run.steps):  # a request would only wait for the next submit
        out.print(f"{name}: every step is done; nothing to cancel")
        return
    run_state.request_cancel(now=time.time())
    if backend == "k8s":
        from nativejobs.k8s.backend import delete_jobs
        from nativejobs.k8s.client import KubeClient

        kube = KubeClient(namespace or "nativejobs", kubeconfig_path=kubeconfig)
        delete_jobs(kube, name)
        out.print(f"{name}: deleted its Jobs in namespace {kube.namespace}")
    out.print(f"{name}: cancel requested; finished steps are kept")


@app.command()
def gc(store: StoreOpt = None,
       forget: Annotated[list[str] | None, typer.Option(
           help="also forget this run (repeatable): its state, and the outputs only it uses")] = None,
       yes: Annotated[bool, typer.Option(
           "--yes", help="delete them; without it, only list what would go")] = False) -> None:
    """Find the step outputs no recorded run refers to (left by a spec edited since, or an older
    plan) and, with --yes, delete them. Run state, caches and mirrored inputs are kept."""
    from nativejobs.controller import RunBusy
    from nativejobs.gc import collect, remove

    st = _default_store(store)
    found = collect(st, forget=[_run_state(st, name).name for name in forget or []])
    forgotten = f"; forgetting {', '.join(found.forgotten)}" if found.forgotten else ""
    out.print(f"{st.uri}: {len(found.runs)} recorded run(s){forgotten}", markup=False)
    table = Table()
    for col in ("step", "kept", "kept size", "garbage", "garbage size"):
        table.add_column(col, justify="left" if col == "step" else "right")
    present = {f.kind for f in found.kept + found.garbage}
    for kind in [k for k in STEP_KINDS if k in present] + sorted(present - set(STEP_KINDS)):
        kept, gone = ([f for f in fs if f.kind == kind] for fs in (found.kept, found.garbage))
        table.add_row(kind, str(len(kept)), _size(sum(f.bytes for f in kept)), str(len(gone)),
                      _size(sum(f.bytes for f in gone)))
    out.print(table)
    size = _size(sum(f.bytes for f in found.garbage))
    if not found.garbage and not found.forgotten:
        out.print("nothing to delete: every step folder belongs to a recorded run")
    elif not yes:
        what = "the forgotten runs' state and " if found.forgotten else ""
        out.print(f"{len(found.garbage)} step folders ({size}) belong to no recorded run; "
                  f"with --yes, gc deletes {what}them", markup=False)
    else:
        try:
            gone = remove(st, found)
        except RunBusy as e:
            _fail(f"gc deletes nothing while a run is driven: {e}", EXIT_RUN_FAILED)
        which = f"forgot {', '.join(found.forgotten)}; " if found.forgotten else ""
        out.print(f"{which}deleted {len(gone)} step folders ({_size(sum(f.bytes for f in gone))})",
                  markup=False)


def _size(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB" if n >= 2**20 else f"{n / 2**10:,.1f} KiB"


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
    run_state = _run_state(st, name)
    matches = [s for s in run_state.record().steps if s.key.startswith(step.split("/")[-1])]
    if len(matches) != 1:
        _fail(f"step {short_repr(step)} matches {len(matches)} steps of {name}; give more of the key",
              EXIT_USAGE)
    s = matches[0]
    if backend == "k8s":
        from nativejobs.k8s.backend import pod_log
        from nativejobs.k8s.client import KubeClient

        kube = KubeClient(namespace or "nativejobs", kubeconfig_path=kubeconfig)
        text = pod_log(kube, s.key)
        if text is None:
            _fail(f"step {s.key[:12]} has no pod in namespace {kube.namespace}", EXIT_USAGE)
        sys.stdout.write(text)
        return
    text = _latest_log(run_state, s.kind, s.key)
    if text is None:
        _fail(f"step {s.key[:12]} has no logs yet", EXIT_USAGE)
    sys.stdout.write(text)


def _latest_log(run_state: RunState, kind: str, key: str) -> str | None:
    """The newest attempt's log: the store's copy, else the local file (an attempt whose
    controller died before storing its log)."""
    from nativejobs.backends.local import local_logs

    local = local_logs(run_state.store.uri, kind, key)
    stored = run_state.step_logs(kind, key)
    if not (local or stored):
        return None
    newest = max(local.keys() | stored.keys())
    return run_state.store.get_text(stored[newest]) if newest in stored else local[newest].read_text()


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
    sys.exit(getattr(e, "exit_code", EXIT_USAGE))


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
        _exit(e, EXIT_USAGE)
    except NativeJobsError as e:  # RunFailedError, StoreError, BackendError: the run failed
        _exit(e, EXIT_RUN_FAILED)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        sys.exit(EXIT_INTERRUPTED)
    except OSError as e:  # the machine's, not ours: a read-only store, a full disk
        where = f" ({short_repr(e.filename)})" if e.filename else ""
        _exit(e, EXIT_RUN_FAILED, f"{e.strerror or e}{where}; run with --debug for the traceback")
    except Exception as e:
        _exit(e, EXIT_RUN_FAILED, f"internal error ({type(e).__name__}: {short_text(str(e))}); this is "
                                  "a bug: run with --debug for the traceback and report it")
    sys.exit(code if isinstance(code, int) else 0)


def _exit(e: BaseException, code: int, message: str | None = None) -> NoReturn:
    if _DEBUG["on"]:
        raise e
    _print_error(str(e) if message is None else message)
    sys.exit(code)
