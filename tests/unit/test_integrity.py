"""Integrity (issue 11, item 4): a marker vouches for each output's size and SHA-256, a reader
checks what it reads, and a mismatch makes the producing step not done, never silently reused.

Three layers, each on a real FileStore (tests/integration/test_integrity_s3.py runs the same
damage on MinIO):
- the store: ``put_marker`` with ``files``/``inputs``, ``read_vouched``, ``invalidate_marker``,
  ``stale_inputs`` as a table, legacy markers (no digests) still done;
- the step entrypoint: a ``CheckedStore`` checks inputs (file and folder artifacts) and the
  marker records the outputs and the input digests;
- whole runs: the real orchestrator and the real entrypoint (``python -m nativejobs.steps``'s
  ``main``, in-process) over the real 7-step plan, with each step kind replaced by a toy step
  that reads every input and writes what its consumers read. The findings of issue 11 are the
  cases: a truncated or altered artifact of a done step, a truncated adapter read by evaluate,
  a marker deleted and its step redone (dependents recomputed only if the content changed),
  and an emptied ``results.md``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from nativejobs import cli
from nativejobs.orchestrate import Observation, Orchestrator
from nativejobs.plan import Plan, Step
from nativejobs.report import run_results
from nativejobs.steps import REGISTRY
from nativejobs.steps import __main__ as entrypoint
from nativejobs.steps._context import CheckedStore, StepContext
from nativejobs.store import (
    INVALID_DIR,
    MARKER,
    ArtifactDamagedError,
    FileStore,
    Store,
    file_digest,
    manifest_digest,
    stale_inputs,
    step_dir,
)
from tests.unit.builders import make_plan, steps_where


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FileStore:
    monkeypatch.setattr(os, "fsync", lambda fd: None)  # speed only; durability is test_store's
    return FileStore(tmp_path / "store")


def truncate(data: bytes) -> bytes:
    return data[: len(data) // 2]


def alter(data: bytes) -> bytes:
    """The same size, one byte changed: only the hash can tell."""
    return data[:-1] + bytes([data[-1] ^ 0x01])


DAMAGE = [
    pytest.param(truncate, "has 6 bytes; its marker vouches for 12", id="truncated"),
    pytest.param(alter, "same size: altered", id="altered"),
    pytest.param(lambda d: b"", "has 0 bytes", id="emptied"),
    pytest.param(None, "is missing", id="deleted"),
]


def damage(store: Store, path: str, how: Any) -> None:
    if how is None:
        store.delete(path)
    else:
        store.put_bytes(path, how(store.get_bytes(path)))


def done_step(store: Store, files: dict[str, bytes], kind: str = "prepare", key: str = "p" * 24,
              **inputs: str | None) -> dict[str, Any]:
    """A step with ``files`` as outputs and a marker that vouches for them."""
    for rel, data in files.items():
        store.put_bytes(f"{step_dir(kind, key)}/{rel}", data)
    store.put_json(f"{step_dir(kind, key)}/_step.json", {"inputs": []})
    store.put_marker(kind, key, {}, files=store.step_manifest(kind, key), inputs=inputs or None)
    marker = store.get_marker(kind, key)
    assert marker is not None
    return marker


def moved_aside(store: Store, kind: str, key: str) -> list[dict[str, Any]]:
    return [store.get_json(p) for p in store.list(f"{step_dir(kind, key)}/{INVALID_DIR}")]


# -- the store ------------------------------------------------------------------------------------
def test_a_marker_vouches_for_every_output_and_not_the_bookkeeping(store: FileStore) -> None:
    files = {"rows.jsonl": b'{"a": 1}\n', "adapter/w.bin": b"\x00" * 5}
    store.put_text(f"{step_dir('prepare', 'p' * 24)}/_logs/attempt-1.log", "log")

    marker = done_step(store, files)

    assert marker["files"] == {rel: file_digest(data) for rel, data in files.items()}
    assert marker["files"]["adapter/w.bin"] == {
        "size": 5, "sha256": hashlib.sha256(b"\x00" * 5).hexdigest()}
    assert marker["digest"] == manifest_digest(marker["files"])
    assert "inputs" not in marker


def test_the_streaming_digest_is_the_in_memory_one(store: FileStore) -> None:
    data = os.urandom(3 * (1 << 20) + 17)  # more than one 1 MiB chunk
    store.put_bytes("x/big.bin", data)
    assert store.digest("x/big.bin") == file_digest(data)


def test_the_digest_depends_on_content_not_on_when_or_where() -> None:
    a = {"x": file_digest(b"1"), "y/z": file_digest(b"2")}
    assert manifest_digest(a) == manifest_digest(dict(reversed(a.items())))
    assert manifest_digest(a) != manifest_digest({**a, "x": file_digest(b"3")})
    assert manifest_digest(a) != manifest_digest({"x2": a["x"], "y/z": a["y/z"]})


def test_an_intact_output_reads_back(store: FileStore) -> None:
    done_step(store, {"rows.jsonl": b"hello world\n"})
    assert store.read_vouched("prepare", "p" * 24, "rows.jsonl") == b"hello world\n"


@pytest.mark.parametrize(("how", "says"), DAMAGE)
def test_a_damaged_output_is_an_error_and_the_step_is_no_longer_done(
        store: FileStore, how: Any, says: str) -> None:
    done_step(store, {"rows.jsonl": b"hello world\n"})
    damage(store, f"{step_dir('prepare', 'p' * 24)}/rows.jsonl", how)

    with pytest.raises(ArtifactDamagedError) as info:
        store.read_vouched("prepare", "p" * 24, "rows.jsonl")

    assert f"step prepare/{'p' * 12} is damaged" in str(info.value)
    assert says in str(info.value) and "recomputes it" in str(info.value)
    assert not store.is_done("prepare", "p" * 24)
    (aside,) = moved_aside(store, "prepare", "p" * 24)
    assert says in aside["reason"] and aside["marker"]["files"]["rows.jsonl"]["size"] == 12


def test_a_file_the_marker_does_not_vouch_for_is_damage(store: FileStore) -> None:
    done_step(store, {"rows.jsonl": b"x\n"})
    store.put_bytes(f"{step_dir('prepare', 'p' * 24)}/extra.jsonl", b"y\n")

    with pytest.raises(ArtifactDamagedError, match="not among the files its marker vouches for"):
        store.read_vouched("prepare", "p" * 24, "extra.jsonl")


def test_a_missing_file_the_marker_never_vouched_for_is_just_missing(store: FileStore) -> None:
    done_step(store, {"rows.jsonl": b"x\n"})
    with pytest.raises(Exception) as info:
        store.read_vouched("prepare", "p" * 24, "other.jsonl")
    assert type(info.value).__name__ == "StoreNotFoundError"
    assert store.is_done("prepare", "p" * 24)


def test_a_legacy_marker_still_counts_as_done_and_vouches_for_nothing(store: FileStore) -> None:
    """Markers written before digests existed: no mass recompute of existing stores (and no
    check either: README, "The store")."""
    store.put_bytes(f"{step_dir('prepare', 'p' * 24)}/rows.jsonl", b"truncat")
    store.put_marker("prepare", "p" * 24, {"metrics": {}})

    assert store.is_done("prepare", "p" * 24)
    assert store.read_vouched("prepare", "p" * 24, "rows.jsonl") == b"truncat"


def test_a_marker_redone_since_is_not_moved_aside(store: FileStore) -> None:
    old = done_step(store, {"rows.jsonl": b"old\n"})
    new = done_step(store, {"rows.jsonl": b"new!\n"})

    assert store.invalidate_marker("prepare", "p" * 24, "damaged", digest=old["digest"]) is None
    assert store.get_marker("prepare", "p" * 24) == new
    assert store.invalidate_marker("prepare", "q" * 24, "no marker at all") is None


STALE = [
    pytest.param({"inputs": {"a": "1"}}, {"a": "1"}, [], id="same-digest"),
    pytest.param({"inputs": {"a": "1"}}, {"a": "2"}, ["a"], id="input-redone-with-other-content"),
    pytest.param({"inputs": {"a": "1", "b": "1"}}, {"a": "1", "b": "2"}, ["b"], id="one-of-two"),
    pytest.param({}, {"a": "2"}, [], id="legacy-dependent"),
    pytest.param({"inputs": {"a": "1"}}, {"a": None}, [], id="legacy-input"),
    pytest.param({"inputs": {"a": "1"}}, {}, [], id="input-not-known"),
]


@pytest.mark.parametrize(("marker", "current", "expected"), STALE)
def test_stale_inputs(marker: dict[str, Any], current: dict[str, str | None],
                      expected: list[str]) -> None:
    assert stale_inputs(marker, current) == expected


# -- the step's view: CheckedStore ----------------------------------------------------------------
def checked(store: Store, **inputs: tuple[str, str, str]) -> CheckedStore:
    return CheckedStore(store, kind="train", key="t" * 24, inputs={
        name: {"name": name, "kind": k, "key": key, "artifact": a}
        for name, (k, key, a) in inputs.items()})


@pytest.mark.parametrize(("how", "says"), DAMAGE)
def test_a_step_reading_a_damaged_input_file_names_the_input_step(
        store: FileStore, how: Any, says: str) -> None:
    done_step(store, {"rows.jsonl": b"hello world\n"})
    view = checked(store, data=("prepare", "p" * 24, "rows.jsonl"))
    view.load_markers()
    damage(store, f"{step_dir('prepare', 'p' * 24)}/rows.jsonl", how)

    with pytest.raises(ArtifactDamagedError) as info:
        view.get_jsonl(f"{step_dir('prepare', 'p' * 24)}/rows.jsonl")

    assert str(info.value).startswith(f"input data: the output of step prepare/{'p' * 12}")
    assert says in str(info.value) and not store.is_done("prepare", "p" * 24)


ADAPTER = {"adapter/adapter_model.safetensors": b"S" * 64, "adapter/adapter_config.json": b"{}",
           "metrics.json": b"{}"}


@pytest.mark.parametrize(("how", "says"), [
    pytest.param(truncate, "has 32 bytes; its marker vouches for 64", id="truncated"),
    pytest.param(alter, "same size: altered", id="altered"),
    pytest.param(None, "is missing", id="deleted"),
])
def test_a_damaged_adapter_fails_before_it_is_loaded_naming_the_train_step(
        store: FileStore, tmp_path: Path, how: Any, says: str) -> None:
    """The finding: a truncated adapter failed evaluate with a SafetensorError (retried twice)
    that never named the train step."""
    done_step(store, ADAPTER, kind="train", key="t" * 24)
    inputs = {"adapter": {"name": "adapter", "kind": "train", "key": "t" * 24, "artifact": "adapter"}}
    view = CheckedStore(store, kind="evaluate", key="e" * 24, inputs=inputs)
    ctx = StepContext(view, "evaluate", "e" * 24, {}, {}, inputs, tmp_path, None)  # type: ignore[arg-type]
    damage(store, f"{step_dir('train', 't' * 24)}/adapter/adapter_model.safetensors", how)

    with pytest.raises(ArtifactDamagedError) as info:
        ctx.download_input("adapter")

    assert f"input adapter: the output of step train/{'t' * 12} is damaged" in str(info.value)
    assert "adapter/adapter_model.safetensors" in str(info.value) and says in str(info.value)
    assert not store.is_done("train", "t" * 24)


def test_an_intact_folder_input_downloads_whole(store: FileStore, tmp_path: Path) -> None:
    done_step(store, ADAPTER, kind="train", key="t" * 24)
    view = checked(store, adapter=("train", "t" * 24, "adapter"))
    local = view.download_dir(f"{step_dir('train', 't' * 24)}/adapter", tmp_path / "a")
    assert (local / "adapter_model.safetensors").read_bytes() == b"S" * 64
    assert store.is_done("train", "t" * 24)


def test_an_input_step_whose_marker_was_moved_aside_fails_before_any_work(store: FileStore) -> None:
    done_step(store, {"rows.jsonl": b"x\n"})
    store.invalidate_marker("prepare", "p" * 24, "damaged")
    view = checked(store, data=("prepare", "p" * 24, "rows.jsonl"))
    with pytest.raises(ArtifactDamagedError, match=f"input data: step prepare/{'p' * 12} is not done"):
        view.load_markers()


def test_an_input_put_there_by_hand_without_a_marker_is_read_unchecked(store: FileStore) -> None:
    """As tests and copied stores do; it vouches for nothing, and nothing is recorded of it."""
    store.put_bytes(f"{step_dir('prepare', 'p' * 24)}/rows.jsonl", b"by hand\n")
    view = checked(store, data=("prepare", "p" * 24, "rows.jsonl"))
    view.load_markers()
    assert view.get_bytes(f"{step_dir('prepare', 'p' * 24)}/rows.jsonl") == b"by hand\n"
    assert view.input_digests() == {"p" * 24: None}


def test_the_step_digests_what_it_writes_and_reads_its_inputs_markers_once(store: FileStore) -> None:
    marker = done_step(store, {"rows.jsonl": b"x\n"})
    view = checked(store, data=("prepare", "p" * 24, "rows.jsonl"))
    view.put_text(f"{step_dir('train', 't' * 24)}/metrics.json", "{}")
    view.put_text("cache/translate/x.jsonl", "{}")  # not the step's own output

    assert view.written == {f"{step_dir('train', 't' * 24)}/metrics.json": file_digest(b"{}")}
    assert view.input_digests() == {"p" * 24: marker["digest"]}


# -- whole runs: the real orchestrator and entrypoint, toy steps ----------------------------------
class Toy:
    """What the toy steps read and write: every step writes the artifacts its consumers read
    (a folder artifact as two files), its content a hash of its key, its inputs' bytes and
    ``salt[kind]``, so a test makes a redone step write other content by changing the salt."""

    def __init__(self, plan: Plan) -> None:
        self.wants: dict[str, set[str]] = defaultdict(set)
        for step in plan.steps:
            for i in step.inputs:
                self.wants[i.key].add(i.artifact)
        self.salt: dict[str, int] = defaultdict(int)
        self.read: dict[str, list[str]] = defaultdict(list)  # step key -> input store paths


class ToyStep:
    toy: Toy

    def __init__(self, ctx: StepContext) -> None:
        self.ctx, self.seen = ctx, b""

    def setup(self) -> None:
        for name, i in sorted(self.ctx.inputs.items()):
            path = self.ctx.input_path(name)
            self.toy.read[self.ctx.key].append(path)
            if "." in i["artifact"]:
                self.seen += self.ctx.store.get_bytes(path)
            else:
                folder = self.ctx.download_input(name)
                self.seen += b"".join(p.read_bytes() for p in sorted(folder.rglob("*")))

    def run(self) -> dict[str, Any]:
        ctx, salt = self.ctx, self.toy.salt[self.ctx.kind]
        body = hashlib.sha256(self.seen + f"{ctx.key}/{salt}".encode()).hexdigest()
        for artifact in self.toy.wants[ctx.key] | ({"results.md"} if ctx.kind == "summarize" else set()):
            if "." in artifact:
                ctx.store.put_text(ctx.out(artifact), f"{artifact}: {body}\n")
            else:
                ctx.store.put_bytes(ctx.out(f"{artifact}/weights.bin"), body.encode() * 16)
                ctx.store.put_text(ctx.out(f"{artifact}/config.json"), "{}")
        return {"read": len(self.seen)}

    def cleanup(self) -> None:
        pass


class InProcessBackend:
    """Runs each launched step to its end at once, through the real entrypoint's ``main``."""

    launch_concurrency = 1

    def __init__(self) -> None:
        self.launches: list[str] = []
        self.output: dict[str, list[str]] = defaultdict(list)  # key -> each attempt's stdout
        self._ended: dict[str, Observation] = {}

    def launch(self, step: Step, *, store_uri: str, attempt: int) -> None:
        self.launches.append(step.key)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = entrypoint.main(["run", "--store", store_uri, "--step", step.ref])
        self.output[step.key].append(out.getvalue())
        self._ended[step.key] = Observation(step.key, "succeeded" if code == 0 else "failed", code,
                                            attempt=attempt)

    def observe(self) -> dict[str, Observation]:
        return dict(self._ended)

    def release(self, key: str) -> str | None:
        del self._ended[key]
        return None

    def cancel_all(self) -> None:
        self._ended.clear()

    def kinds_launched(self, plan: Plan) -> list[str]:
        steps = plan.by_key()
        return sorted(steps[k].kind for k in self.launches)


@pytest.fixture
def plan() -> Plan:
    return make_plan()


def install_toy(plan: Plan, monkeypatch: pytest.MonkeyPatch) -> Toy:
    """Replace every step kind with ``ToyStep`` for this test."""
    toy = Toy(plan)
    monkeypatch.setattr(ToyStep, "toy", toy, raising=False)
    for kind in list(REGISTRY):
        monkeypatch.setitem(REGISTRY, kind, ToyStep)
    return toy


@pytest.fixture
def toy(plan: Plan, monkeypatch: pytest.MonkeyPatch) -> Toy:
    return install_toy(plan, monkeypatch)


def submit(plan: Plan, store: Store, *, retries: int = 1) -> tuple[InProcessBackend, bool]:
    """One submit: a fresh controller and backend, run to the end."""
    backend = InProcessBackend()
    orch = Orchestrator(plan, store, backend, max_parallel=4, retries=retries,  # type: ignore[arg-type]
                        backoff_s=lambda n: 0.0)
    status = orch.run(store.uri, poll_s=0.0)
    return backend, status.succeeded


def one(plan: Plan, kind: str, **labels: str) -> Step:
    return steps_where(plan, kind, **labels)[0]


def test_a_run_vouches_for_every_output_and_records_what_it_was_built_from(
        plan: Plan, store: FileStore, toy: Toy) -> None:
    backend, ok = submit(plan, store)
    assert ok and len(backend.launches) == len(plan.steps)

    for step in plan.steps:
        marker = store.get_marker(step.kind, step.key)
        assert marker is not None and marker["digest"] == manifest_digest(marker["files"])
        assert set(marker["files"]) >= {a for a in toy.wants[step.key] if "." in a}
        built_from = {i.key: store.get_marker(i.kind, i.key)["digest"] for i in step.inputs}  # type: ignore[index]
        assert marker.get("inputs", {}) == built_from
    assert submit(plan, store)[0].launches == []  # a resubmit does nothing


def corrupt_and_reread(plan: Plan, store: Store, producer: Step, rel: str, how: Any) -> Step:
    """Damage ``producer``'s output ``rel`` and delete one consumer's marker, so a resubmit
    reads it (as an edited spec's new step would)."""
    consumer = next(s for s in plan.steps if any(i.key == producer.key for i in s.inputs))
    damage(store, f"{step_dir(producer.kind, producer.key)}/{rel}", how)
    store.delete(f"{step_dir(consumer.kind, consumer.key)}/{MARKER}")
    return consumer


@pytest.mark.parametrize("how", [pytest.param(truncate, id="truncated"),
                                 pytest.param(alter, id="altered")])
def test_a_damaged_artifact_of_a_done_step_is_recomputed_never_reused(
        plan: Plan, store: FileStore, toy: Toy, how: Any) -> None:
    """The finding: a truncated artifact of a done step was silently reused."""
    assert submit(plan, store)[1]
    prepare = one(plan, "prepare")
    rel = sorted(a for a in toy.wants[prepare.key] if "." in a)[0]
    intact = store.get_bytes(f"{step_dir('prepare', prepare.key)}/{rel}")
    consumer = corrupt_and_reread(plan, store, prepare, rel, how)

    backend, ok = submit(plan, store)

    assert ok
    first = backend.output[consumer.key][0]
    assert "error: input " in first and f"step prepare/{prepare.key[:12]} is damaged" in first
    assert backend.launches.count(prepare.key) == 1 and backend.launches.count(consumer.key) == 2
    assert store.get_bytes(f"{step_dir('prepare', prepare.key)}/{rel}") == intact
    (aside,) = moved_aside(store, "prepare", prepare.key)
    assert rel in aside["reason"]


def test_a_truncated_adapter_redoes_its_train_step_then_evaluates(
        plan: Plan, store: FileStore, toy: Toy) -> None:
    """The finding: evaluate failed on a truncated adapter (exit 1, retried twice) without
    naming the upstream step; now one attempt names it, train reruns, evaluate succeeds."""
    assert submit(plan, store)[1]
    train = one(plan, "train")
    evaluate = corrupt_and_reread(plan, store, train, "adapter/weights.bin", truncate)

    backend, ok = submit(plan, store, retries=1)

    assert ok
    (failed, succeeded) = backend.output[evaluate.key]
    assert f"step train/{train.key[:12]} is damaged: {step_dir('train', train.key)}/adapter/" \
           "weights.bin has" in failed
    assert "already done" not in succeeded
    assert backend.launches.count(train.key) == 1


def test_a_redone_step_with_other_content_invalidates_its_dependents(
        plan: Plan, store: FileStore, toy: Toy) -> None:
    """The finding: after a marker was deleted and its step redone, dependents built from the
    old artifact were kept."""
    assert submit(plan, store)[1]
    train = one(plan, "train")
    downstream = plan.downstream({train.key})
    store.delete(f"{step_dir('train', train.key)}/{MARKER}")
    toy.salt["train"] += 1  # the redo writes other bytes (as a GPU's nondeterminism would)

    backend, ok = submit(plan, store)

    assert ok and set(backend.launches) == {train.key} | downstream
    for key in downstream:
        step = plan.by_key()[key]
        (aside,) = moved_aside(store, step.kind, key)
        redone = sorted({f"{i.kind}/{i.key[:12]}" for i in step.inputs
                         if i.key in downstream | {train.key}})
        assert aside["reason"] == f"built from outputs of {', '.join(redone)} that were redone since"
    assert submit(plan, store)[0].launches == []


def test_a_redone_step_with_the_same_content_keeps_its_dependents(
        plan: Plan, store: FileStore, toy: Toy) -> None:
    assert submit(plan, store)[1]
    train = one(plan, "train")
    store.delete(f"{step_dir('train', train.key)}/{MARKER}")

    backend, ok = submit(plan, store)

    assert ok and backend.launches == [train.key]


def test_a_stale_step_launched_anyway_reruns_instead_of_saying_done(
        plan: Plan, store: FileStore, toy: Toy) -> None:
    """The entrypoint checks the input digests too: a stale marker is not 'already done'."""
    assert submit(plan, store)[1]
    train, evaluate = one(plan, "train"), one(plan, "evaluate")
    store.delete(f"{step_dir('train', train.key)}/{MARKER}")
    toy.salt["train"] += 1
    with contextlib.redirect_stdout(io.StringIO()):
        assert entrypoint.main(["run", "--store", store.uri, "--step", train.ref]) == 0
        before = store.get_marker("evaluate", evaluate.key)
        assert entrypoint.main(["run", "--store", store.uri, "--step", evaluate.ref]) == 0

    after = store.get_marker("evaluate", evaluate.key)
    assert before is not None and after is not None and after["inputs"] != before["inputs"]
    assert after["inputs"][train.key] == store.get_marker("train", train.key)["digest"]  # type: ignore[index]


def test_legacy_markers_keep_a_store_done(plan: Plan, store: FileStore, toy: Toy) -> None:
    """A store written before markers had digests: nothing is recomputed on resubmit."""
    assert submit(plan, store)[1]
    for step in plan.steps:
        path = f"{step_dir(step.kind, step.key)}/{MARKER}"
        doc = store.get_json(path)
        store.put_json(path, {k: v for k, v in doc.items() if k not in ("files", "digest", "inputs")})

    assert submit(plan, store)[0].launches == []


# -- results.md ----------------------------------------------------------------------------------
def finished_run(store: Store, plan: Plan) -> dict[str, Any]:
    summarize = one(plan, "summarize")
    run = {"name": plan.name, "summary": summarize.ref, "spec": {"conditions": []},
           "steps": [s.definition() for s in plan.steps]}
    store.put_json(f"runs/{plan.name}/run.json", run)
    return run


@pytest.mark.parametrize("how", [pytest.param(lambda d: b"", id="emptied"),
                                 pytest.param(truncate, id="truncated")])
def test_a_damaged_results_md_is_an_error_naming_the_summarize_step(
        plan: Plan, store: FileStore, toy: Toy, capsys: pytest.CaptureFixture[str],
        how: Any) -> None:
    """The finding: an emptied results.md printed nothing, exit 0."""
    assert submit(plan, store)[1]
    run = finished_run(store, plan)
    summarize = one(plan, "summarize")
    assert run_results(store, run, "md").startswith("results.md: ")
    damage(store, f"{step_dir('summarize', summarize.key)}/results.md", how)

    with pytest.raises(SystemExit) as info:
        cli.main(["results", plan.name, "--store", store.uri])

    out, err = capsys.readouterr()
    assert info.value.code == 1 and out == ""
    assert f"step summarize/{summarize.key[:12]} is damaged" in err and "results.md has" in err
    assert not store.is_done("summarize", summarize.key)
    backend, ok = submit(plan, store)  # submitting again recomputes it
    assert ok and backend.launches == [summarize.key]
    assert run_results(store, run, "md").startswith("results.md: ")


class CountingStore(FileStore):
    """A FileStore that remembers every path read."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.reads: list[str] = []

    def get_bytes(self, path: str) -> bytes:
        self.reads.append(path)
        return super().get_bytes(path)

    def digest(self, path: str) -> dict[str, Any]:
        self.reads.append(path)
        return super().digest(path)


def test_the_reconcile_pass_reads_markers_never_artifacts(plan: Plan, store: FileStore,
                                                           toy: Toy) -> None:
    """Integrity costs the controller nothing per pass: artifacts are checked by their readers."""
    assert submit(plan, store)[1]
    counting = CountingStore(store.root)
    orch = Orchestrator(plan, counting, InProcessBackend(), max_parallel=4, retries=1)  # type: ignore[arg-type]

    for _ in range(3):
        assert orch.reconcile(counting.uri).succeeded

    assert counting.reads and all(p.endswith((MARKER, "attempts.json")) for p in counting.reads)
    assert len([p for p in counting.reads if p.endswith(MARKER)]) == len(plan.steps)  # once each
