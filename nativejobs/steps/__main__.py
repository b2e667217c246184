"""Step entrypoint: ``python -m nativejobs.steps run --store URI --step KIND/KEY``.

Exit codes (``nativejobs.exit_codes``): 0 done (marker written), 3 bad input or config (never
retried), 4 an input step's output is damaged (a free retry once it is redone), other = retryable.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

from pydantic import ValidationError

from nativejobs.errors import ArtifactDamagedError, NativeJobsError, StepInputError
from nativejobs.exit_codes import EXIT_BAD_INPUT, EXIT_INPUT_DAMAGED, EXIT_OK, EXIT_RETRYABLE
from nativejobs.host_inputs import MIRROR_ENV, mirror_params
from nativejobs.store import Store, open_store, step_dir

__all__ = ["EXIT_BAD_INPUT", "EXIT_INPUT_DAMAGED", "EXIT_OK", "EXIT_RETRYABLE", "main", "run_step"]


class _StepTag(logging.Filter):
    """Tags every record with the step, third-party ones (matplotlib, datasets, ...) included,
    so the format's ``%(step)s`` never fails on a record that did not come through the adapter."""

    def __init__(self, tag: str) -> None:
        super().__init__()
        self.tag = tag

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "step"):
            record.step = self.tag
        return True


def _logger(kind: str, key: str) -> logging.LoggerAdapter:  # type: ignore[type-arg]
    tag = f"{kind}/{key[:8]}"
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(_StepTag(tag))
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(step)s] %(message)s",
                                           datefmt="%H:%M:%S"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    for noisy in ("httpx", "urllib3", "botocore", "transformers", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return logging.LoggerAdapter(logging.getLogger("nativejobs.steps"), {"step": tag})


def run_step(store_uri: str, ref: str) -> int:
    """Run one step to completion; returns the process exit code."""
    from nativejobs.steps import REGISTRY
    from nativejobs.steps._context import CheckedStore, StepContext, drop_if_stale

    kind, _, key = ref.partition("/")
    log = _logger(kind, key)
    store = open_store(store_uri)
    done = store.get_marker(kind, key)
    if done is not None and not drop_if_stale(store, kind, key, done):
        log.info("already done; nothing to do")
        return EXIT_OK
    definition = store.get_json(f"{step_dir(kind, key)}/_step.json")
    inputs = {i["name"]: i for i in definition["inputs"]}
    checked = CheckedStore(store, kind=kind, key=key, inputs=inputs)
    checked.load_markers()  # an input step that is not done fails here, before any work
    threads = int(os.environ.get("NATIVEJOBS_THREADS", "0"))
    if threads:
        import torch

        torch.set_num_threads(threads)
    start = time.time()
    with tempfile.TemporaryDirectory(prefix=f"nativejobs-{kind}-") as tmp:
        params = mirror_params(definition["params"], os.environ.get(MIRROR_ENV))
        ctx = StepContext(checked, kind, key, params, definition.get("labels", {}), inputs,
                          Path(tmp), log)
        log.info("start %s (pid %d)", " ".join(ctx.labels.values()), os.getpid())
        step = REGISTRY[kind](ctx)
        step.setup()
        metrics = step.run()
        step.cleanup()
    store.put_marker(kind, key, {"metrics": metrics, "wall_s": round(time.time() - start, 3)},
                     files=store.step_manifest(kind, key, known=checked.written),
                     inputs=checked.input_digests())
    log.info("done in %.1fs", time.time() - start)
    return EXIT_OK


class _Tee(io.TextIOBase):
    """A stream that writes to the real one and keeps a copy."""

    def __init__(self, real: io.TextIOBase, copy: io.StringIO) -> None:
        self.real, self.copy = real, copy

    def write(self, text: str) -> int:
        self.copy.write(text)
        return self.real.write(text)

    def flush(self) -> None:
        self.real.flush()


@contextlib.contextmanager
def _log_kept_in_store(store_uri: str, ref: str):  # type: ignore[no-untyped-def]
    """On a cluster (NATIVEJOBS_ATTEMPT set by the Job) the step stores its own log, so it
    outlives the pod and the controller never waits on a kubelet for it."""
    attempt = os.environ.get("NATIVEJOBS_ATTEMPT")
    if not attempt:
        yield
        return
    copy = io.StringIO()
    real_out, real_err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Tee(real_out, copy), _Tee(real_err, copy)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = real_out, real_err
        kind, _, key = ref.partition("/")
        with contextlib.suppress(Exception):  # the log is a courtesy; the exit code is the contract
            store: Store = open_store(store_uri)
            store.put_text(f"{step_dir(kind, key)}/_logs/attempt-{attempt}.log", copy.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nativejobs.steps")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one step")
    run.add_argument("--store", required=True)
    run.add_argument("--step", required=True, help="KIND/KEY")
    args = parser.parse_args(argv)
    with _log_kept_in_store(args.store, args.step):
        try:
            return run_step(args.store, args.step)
        except (StepInputError, ValidationError) as e:
            print(f"error: bad input: {e}", flush=True)
            return EXIT_BAD_INPUT
        except ArtifactDamagedError as e:  # an input step's fault: its marker is moved aside
            print(f"error: {e}", flush=True)
            return EXIT_INPUT_DAMAGED
        except NativeJobsError as e:
            print(f"error: {e}", flush=True)
            return EXIT_RETRYABLE


if __name__ == "__main__":
    sys.exit(main())
