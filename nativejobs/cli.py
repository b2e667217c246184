"""The ``nativejobs`` command: parse, call the library, render with rich.

Exit codes: 0 ok, 1 the run failed, 2 bad input (spec, arguments, unknown run), 130 interrupted.
"""

from __future__ import annotations

import json
import os
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

from nativejobs.errors import NativeJobsError, RunFailedError, SpecError, StoreNotFoundError
from nativejobs.orchestrate import Orchestrator, RunStatus, State
from nativejobs.plan import Plan, Step, build_plan, estimate_gpu_hours
from nativejobs.report import REPORT_FORMATS, ReportInputError, import_report, run_results
from nativejobs.spec import STEP_KINDS, ExperimentSpec, default_store_uri, load_spec
from nativejobs.store import Store, open_store, step_dir

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Run native-vs-translated instruction-tuning studies.")
out = Console()
err = Console(stderr=True)
_DEBUG = {"on": False}

SpecArg = Annotated[Path, typer.Argument(help="experiment spec (YAML)", show_default=False)]
StoreOpt = Annotated[str | None, typer.Option("--store", help="store URI (default: the spec's, "
                                              "$NATIVEJOBS_STORE, or ./.nativejobs/store)")]


def _fail(message: str, code: int) -> NoReturn:
    for line in message.splitlines():
        err.print(f"[red]error:[/red] {line}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code)


def _default_store(store: str | None, spec: ExperimentSpec | None = None) -> Store:
    return open_store(store or (spec.store_uri() if spec else default_store_uri()))


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


def _done_keys(plan: Plan, store: Store) -> set[str]:
    return {s.key for s in plan.steps if store.is_done(s.kind, s.key)}


def _plan_table(plan: Plan, store: Store, spec: ExperimentSpec, done: set[str]) -> Table:
    hours = estimate_gpu_hours(plan, spec, only={s.key for s in plan.steps} - done)
    table = Table(title=f"plan {plan.name} ({store.uri})")
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
        mark = "[green]✓[/green]" if what == "succeeded" else "[red]✗[/red]"
        out.print(f"{mark} {step.kind:<9} {step.title} [dim]({took:.1f}s) {detail}[/dim]", highlight=False)

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


@app.command()
def submit(spec: SpecArg, store: StoreOpt = None,
           backend: Annotated[str, typer.Option(help="where steps run: local")] = "local",
           max_parallel: Annotated[int | None, typer.Option(min=1, help="steps at once")] = None) -> None:
    """Run a study; finished steps are never redone, so submitting again resumes."""
    if backend != "local":
        _fail(f"--backend: got {backend!r}; only 'local' is available in this version", 2)
    from nativejobs.backends.local import LocalBackend, log_dir_for
    from nativejobs.engines.models import cache_dir

    s, p = _load(spec)
    st = _default_store(store, s)
    parallel = max_parallel or s.execution.max_parallel
    local = LocalBackend(log_dir=log_dir_for(cache_dir(), st.uri),
                         threads_per_step=max(1, (os.cpu_count() or 1) // parallel))
    progress = _Progress(p)
    orch = Orchestrator(p, st, local, max_parallel=parallel, retries=s.execution.retries,
                        on_event=progress.event)
    _record_run(st, s, p)
    done = _done_keys(p, st)
    todo = [x for x in p.steps if x.key not in done]
    if not todo:
        out.print(f"{p.name}: all {len(p.steps)} steps are already done; nothing to run")
        _emit(_run_results(st, p.name, "md"), "md")
        return
    if retried := orch.forgive_failures():
        out.print(f"retrying {len(retried)} step(s) that failed in an earlier submit")
    out.print(f"{p.name}: {len(p.steps) - len(todo)} of {len(p.steps)} steps already done; "
              f"running {len(todo)} with up to {parallel} at once (store {st.uri})")
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored (`&`)
    try:
        with Live(progress.table(), console=out, refresh_per_second=2, transient=True) as live:
            def on_pass(status: RunStatus) -> None:
                progress.status = status
                live.update(progress.table())
            status = orch.run(st.uri, on_pass=on_pass)
    except KeyboardInterrupt:
        local.cancel_all()
        _fail(f"interrupted; finished steps are kept. Run `nativejobs submit {spec}` to continue.", 130)
    out.print(progress.table())
    if not status.succeeded:
        for key, why in status.failures.items():
            step = p.by_key()[key]
            err.print(f"[red]failed[/red] {step.kind} {step.title} ({key[:12]}): {why}; "
                      f"see `nativejobs logs {p.name} {key[:12]}`", highlight=False)
        blocked = sum(v is State.BLOCKED for v in status.states.values())
        _emit(_run_results(st, p.name, "md"), "md")  # what is done, and the completeness table
        raise RunFailedError(f"{len(status.failures)} step(s) failed, {blocked} blocked by them")
    _emit(_run_results(st, p.name, "md"), "md")


def _run_record(store: Store, name: str) -> dict[str, Any]:
    try:
        return store.get_json(f"runs/{name}/run.json")
    except StoreNotFoundError:
        raise StoreNotFoundError(f"no run named {name!r} in {store.uri}; check the name or "
                                 "pass --store") from None


def _attempts(store: Store, name: str) -> dict[str, Any]:
    path = f"runs/{name}/attempts.json"
    return store.get_json(path) if store.exists(path) else {}


def _run_results(store: Store, name: str, fmt: str) -> str:
    return run_results(store, _run_record(store, name), fmt, attempts=_attempts(store, name))


def _emit(text: str, fmt: str, output: Path | None = None) -> None:
    if output:
        output.write_text(text, encoding="utf-8")
        out.print(f"wrote {output}")
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
) -> None:
    """Results: scores with ΔS and CIs, r per benchmark, completeness; md, csv, json or html."""
    if format not in REPORT_FORMATS:
        _fail(f"--format: got {format!r}; use one of {', '.join(REPORT_FORMATS)}", 2)
    if name is None and not imports:
        _fail("results: give an experiment NAME, or --import FILE", 2)
    if bad := [k for k in kind or [] if "=" not in k]:
        _fail(f"--kind: got {bad[0]!r}; use NAME=KIND, e.g. google=translated", 2)
    kinds = dict(k.split("=", 1) for k in kind or [])
    if not imports:
        assert name is not None
        _emit(_run_results(_default_store(store), name, format), format, output)
        return
    own: list[dict[str, Any]] = []
    if name:
        st = _default_store(store)
        run = _run_record(st, name)
        own = json.loads(_run_results(st, name, "json"))
        kinds = {c["name"]: c["kind"] for c in run["spec"]["conditions"]} | kinds
    _emit(import_report(imports, format, kinds=kinds, with_records=own), format, output)


@app.command()
def status(name: Annotated[str, typer.Argument(help="experiment name")], store: StoreOpt = None) -> None:
    """Show how far a run has got, step by step."""
    st = _default_store(store)
    run = _run_record(st, name)
    attempts = _attempts(st, name)
    table = Table(title=f"{name} ({st.uri})")
    for col in ("kind", "key", "what", "state", "attempts"):
        table.add_column(col)
    for s in run["steps"]:
        tries = attempts.get(s["key"], [])
        done = st.is_done(s["kind"], s["key"])
        state = "done" if done else (tries[-1]["outcome"] if tries else "not run")
        table.add_row(s["kind"], s["key"][:12], " ".join(s["labels"].values()), state, str(len(tries)))
    out.print(table)


@app.command()
def logs(name: Annotated[str, typer.Argument(help="experiment name")],
         step: Annotated[str, typer.Argument(help="step key (a prefix is enough)")],
         store: StoreOpt = None) -> None:
    """Print the log of a step's latest attempt."""
    st = _default_store(store)
    run = _run_record(st, name)
    matches = [s for s in run["steps"] if s["key"].startswith(step.split("/")[-1])]
    if len(matches) != 1:
        _fail(f"step {step!r} matches {len(matches)} steps of {name}; give more of the key", 2)
    s = matches[0]
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


def main() -> None:
    """Console entry point: map our errors to exit codes and one-line messages."""
    try:
        code = app(standalone_mode=False)  # a typer.Exit inside a command comes back as its code
        sys.exit(code if isinstance(code, int) else 0)
    except (SpecError, ReportInputError) as e:
        _exit(e, 2)
    except StoreNotFoundError as e:
        _exit(e, 2)
    except RunFailedError as e:
        _exit(e, 1)
    except NativeJobsError as e:
        _exit(e, 1)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        sys.exit(130)
    except Exception as e:  # click's usage errors carry their own exit code
        import click

        if isinstance(e, click.ClickException):
            e.show()
            sys.exit(e.exit_code)
        raise


def _exit(e: Exception, code: int) -> NoReturn:
    if _DEBUG["on"]:
        raise e
    try:
        _fail(str(e), code)
    except typer.Exit as x:
        sys.exit(x.exit_code)
