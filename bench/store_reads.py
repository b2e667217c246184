"""Reading a whole plan's markers from an object store: ``status``, ``plan``, the report and a
resubmit's first look all ask which of a plan's steps are done (``runs.done_digests``).

The plan is ``examples/paper.yaml``'s (1,283 steps) with every step done: a marker written for
each (with its inputs' digests, as a step writes it) on S3 (MinIO, or any S3 from the AWS_*
environment). The same reading is timed twice, each the best of --repeats:

  one by one   ``concurrency`` 1: a marker read is one round trip, one after another
               (how every reading went before this bench)
  at once      the store's ``concurrency`` (S3: 16 in flight), a dependency level at a time

and prints wall time, reads per second and the ratio. Then ``nativejobs status`` and
``nativejobs plan`` are timed end to end on the same store (a process each, as a user runs them).

A local MinIO answers in about a millisecond; an object store in a cloud region takes 10-50 ms a
round trip. ``--rtt-ms`` puts a relay in front of the server that holds each request that long
before passing it on (the server itself is untouched), to show the reading at such a distance.

    eval "$(scripts/minio.sh start)"
    python bench/store_reads.py                       # a fresh bucket on that server
    python bench/store_reads.py --rtt-ms 20           # as if the server were 20 ms away
    python bench/store_reads.py --store s3://bucket/prefix --repeats 5
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `python bench/store_reads.py` from a checkout
    sys.path.insert(0, str(REPO))

from nativejobs.plan import build_plan  # noqa: E402
from nativejobs.runs import RunRecord, RunState, done_digests, step_records  # noqa: E402
from nativejobs.spec import load_spec  # noqa: E402
from nativejobs.store import Store, open_store  # noqa: E402

SPEC = REPO / "examples" / "paper.yaml"


def fill(store: Store, spec_path: Path) -> int:
    """Record the plan as a submit does and mark every step done; returns the step count."""
    spec = load_spec(spec_path)
    plan = build_plan(spec)
    RunState(store, plan.name).put_record(RunRecord.of(spec.model_dump(mode="json"), plan, now=time.time()))
    digests = {s.key: f"sha256:{s.key}" for s in plan.steps}

    def done(i: int) -> None:
        step = plan.steps[i]
        store.put_marker(step.kind, step.key, {"digest": digests[step.key]},
                         inputs={k.key: digests[k.key] for k in step.inputs})

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(done, range(len(plan.steps))))
    return len(plan.steps)


def timed(store: Store, records: list, repeats: int) -> tuple[float, int]:
    best, found = float("inf"), 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        found = len(done_digests(store, records))
        best = min(best, time.perf_counter() - t0)
    return best, found


def cli_seconds(*args: str) -> float:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "nativejobs", *args], capture_output=True, text=True,
                         cwd=REPO, env={**os.environ, "COLUMNS": "200"})
    if out.returncode != 0:
        raise SystemExit(f"nativejobs {' '.join(args)} failed: {out.stderr.strip()[-500:]}")
    return time.perf_counter() - t0


def start_relay(target: str, rtt_ms: float) -> str:
    """A TCP relay to ``target`` (http://host:port) that holds each request ``rtt_ms`` before
    passing it on; returns its own http://host:port."""
    dest = urlparse(target)
    ready: list[str] = []
    started = threading.Event()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
        while chunk := await reader.read(1 << 16):
            if delay:
                await asyncio.sleep(delay)
            writer.write(chunk)
            await writer.drain()
        writer.close()

    async def serve(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(dest.hostname, dest.port)
        await asyncio.gather(pipe(client_r, server_w, rtt_ms / 1000), pipe(server_r, client_w, 0),
                             return_exceptions=True)

    async def main() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        ready.append(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
        started.set()
        await server.serve_forever()

    threading.Thread(target=asyncio.run, args=(main(),), daemon=True).start()
    started.wait(10)
    return ready[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", help="s3://bucket/prefix (default: a fresh bucket on $AWS_ENDPOINT_URL)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rtt-ms", type=float, default=0.0,
                    help="hold each request this long on its way to the server (default: none)")
    args = ap.parse_args()
    if args.rtt_ms:
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ["AWS_ENDPOINT_URL"]
        relay = start_relay(endpoint, args.rtt_ms)
        os.environ["AWS_ENDPOINT_URL"] = os.environ["AWS_ENDPOINT_URL_S3"] = relay
    uri = args.store or _fresh_bucket()
    store = open_store(uri)
    n = fill(store, SPEC)
    plan = build_plan(load_spec(SPEC))
    records = step_records(plan)
    width = store.concurrency

    store.concurrency = 1
    serial, found_serial = timed(store, records, args.repeats)
    store.concurrency = width
    at_once, found = timed(store, records, args.repeats)
    assert found == found_serial == n, (found, found_serial, n)

    status_s = cli_seconds("status", plan.name, "--store", uri)
    plan_s = cli_seconds("plan", str(SPEC), "--store", uri)

    distance = f", each request held {args.rtt_ms:g} ms on its way" if args.rtt_ms else ""
    print(f"store {uri}: {n} markers of {plan.name}{distance} (load {os.getloadavg()[0]:.1f})")
    print("| reading | wall | markers/s | ratio |")
    print("|---|---:|---:|---:|")
    print(f"| one by one (concurrency 1) | {serial:.2f} s | {n / serial:,.0f} | 1.00 |")
    print(f"| at once (concurrency {width}) | {at_once:.2f} s | {n / at_once:,.0f} | "
          f"{serial / at_once:.2f}× faster |")
    print(f"`nativejobs status {plan.name}`: {status_s:.2f} s; `nativejobs plan paper.yaml`: {plan_s:.2f} s "
          "(processes, start-up included)")


def _fresh_bucket() -> str:
    import boto3

    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    boto3.session.Session().client("s3").create_bucket(Bucket=bucket)
    return f"s3://{bucket}/store"


if __name__ == "__main__":
    main()
