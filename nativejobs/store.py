"""One artifact store over ``file://`` and ``s3://`` URIs.

Layout (relative to the store root)::

    steps/<kind>/<key>/            outputs of one step
    steps/<kind>/<key>/_step.json  the step definition the entrypoint runs
    steps/<kind>/<key>/_SUCCESS.json   written last; the only proof a step is done
    steps/<kind>/<key>/_invalid/   markers moved aside, each with the reason
    runs/<name>/                   per-run state: spec, plan, attempts, the driving controller
    cache/translate/, cache/judge/ translated segments and judge verdicts, shared by every run
    inputs/host/                   a cluster run's local input files (``host_inputs``)

Writes are atomic: a reader sees the old object, the new one, or nothing.

Integrity: a marker vouches for the step's outputs by listing each file (every path under the
step's folder except the ``_``-prefixed bookkeeping) with its size and SHA-256 (``files``), a
``digest`` of that list, and the ``digest`` of each input's marker it was built from
(``inputs``). A reader checks what it reads against ``files`` (``read_vouched``); a mismatch
moves the marker aside (``invalidate_marker``), so the step is not done and is recomputed. A
marker whose ``inputs`` name digests its inputs no longer have is stale (``stale_inputs``).
Markers written before these fields existed vouch for nothing and still count as done.
S3 settings come from the standard AWS environment (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``/``AWS_ENDPOINT_URL_S3``, ``AWS_REGION``), so
AWS S3, MinIO and other S3-compatible stores all work; ``endpoint_url`` overrides the endpoint.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import stat
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from nativejobs.errors import ArtifactDamagedError, StoreError, StoreNotFoundError

__all__ = ["INVALID_DIR", "MARKER", "MARKER_FORMAT_VERSION", "ArtifactDamagedError", "FileStore",
           "S3Store", "Store", "file_digest", "is_vouched", "manifest_digest", "mismatch", "open_store",
           "stale_inputs", "step_dir"]

log = logging.getLogger(__name__)
T, R = TypeVar("T"), TypeVar("R")

MARKER = "_SUCCESS.json"
# 1 still: files, digest and inputs are optional fields (a marker without them is a legacy one).
MARKER_FORMAT_VERSION = 1
INVALID_DIR = "_invalid"
_CHUNK = 1 << 20  # streaming hash: a 1 MiB buffer whatever the artifact's size


def step_dir(kind: str, key: str) -> str:
    """Store prefix of one step's outputs."""
    return f"steps/{kind}/{key}"


def file_digest(data: bytes) -> dict[str, Any]:
    """What a marker records of one file: ``{"size": bytes, "sha256": hex}``."""
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def is_vouched(rel: str) -> bool:
    """Whether a path relative to a step's folder is an output its marker vouches for (the
    ``_``-prefixed marker, definition, logs and moved-aside markers are bookkeeping)."""
    return not rel.split("/", 1)[0].startswith("_")


def manifest_digest(files: Mapping[str, Mapping[str, Any]]) -> str:
    """One digest of a step's outputs: equal for equal content, whenever and wherever made."""
    rows = [[rel, f["size"], f["sha256"]] for rel, f in sorted(files.items())]
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


def stale_inputs(marker: Mapping[str, Any], current: Mapping[str, str | None]) -> list[str]:
    """Keys of the inputs whose current marker digest differs from the one ``marker`` was built
    from. A digest unknown on either side (a legacy marker) is never stale."""
    built_from = marker.get("inputs") or {}
    return sorted(k for k, d in built_from.items()
                  if d and current.get(k) and current[k] != d)


def mismatch(want: Mapping[str, Any] | None, got: Mapping[str, Any]) -> str | None:
    """Why ``got`` (a file_digest) is not the file ``want`` vouches for, or None if it is."""
    if want is None:
        return "is not among the files its marker vouches for"
    if got["size"] != want.get("size"):
        return f"has {got['size']:,} bytes; its marker vouches for {want.get('size'):,}"
    if got["sha256"] != want.get("sha256"):
        return (f"has SHA-256 {got['sha256'][:16]}…; its marker vouches for "
                f"{str(want.get('sha256'))[:16]}… (same size: altered)")
    return None


class Store(ABC):
    """Artifact storage addressed by '/'-separated relative paths."""

    # Calls in flight at once where many small objects are read or written (markers, step
    # definitions): 1 on a local disk; an object store is bound by round trips.
    concurrency = 1

    uri: str

    @abstractmethod
    def put_bytes(self, path: str, data: bytes) -> None:
        """Write ``data`` at ``path`` atomically, replacing what was there."""

    @abstractmethod
    def get_bytes(self, path: str) -> bytes:
        """Read ``path``. Raises: StoreNotFoundError if it does not exist."""

    @abstractmethod
    def exists(self, path: str) -> bool:
        """Whether an object exists at ``path``."""

    @abstractmethod
    def sizes(self, prefix: str) -> dict[str, int]:
        """Path (relative to the root) -> size in bytes of every object under ``prefix``
        (recursive; a prefix naming one object covers that object)."""

    @abstractmethod
    def delete(self, path: str) -> None:
        """Remove one object; a missing object is not an error."""

    # -- derived helpers: the same for every backend ----------------------------------------
    def list(self, prefix: str) -> list[str]:
        """Paths of all objects under ``prefix`` (recursive), relative to the root, sorted."""
        return sorted(self.sizes(prefix))

    def put_text(self, path: str, text: str) -> None:
        self.put_bytes(path, text.encode("utf-8"))

    def get_text(self, path: str) -> str:
        return self.get_bytes(path).decode("utf-8")

    def put_json(self, path: str, obj: Any) -> None:
        self.put_text(path, json.dumps(obj, ensure_ascii=False, indent=1, sort_keys=True) + "\n")

    def get_json(self, path: str) -> Any:
        return json.loads(self.get_bytes(path))

    def put_jsonl(self, path: str, rows: list[dict[str, Any]]) -> None:
        self.put_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))

    def get_jsonl(self, path: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.get_text(path).splitlines() if line.strip()]

    def upload_dir(self, local: Path, prefix: str) -> None:
        """Copy every file under ``local`` to ``prefix/``."""
        base = prefix.strip("/")
        for file in sorted(p for p in local.rglob("*") if p.is_file()):
            rel = file.relative_to(local).as_posix()
            self.put_bytes(f"{base}/{rel}" if base else rel, file.read_bytes())

    def download_dir(self, prefix: str, local: Path) -> Path:
        """Copy every object under ``prefix/`` into ``local``. Raises: StoreNotFoundError if none."""
        paths = self.list(prefix)
        if not paths:
            raise StoreNotFoundError(f"nothing stored under {self.uri}/{prefix}")
        for path in paths:
            target = local / path[len(prefix) :].lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.get_bytes(path))
        return local

    def delete_prefix(self, prefix: str) -> None:
        for path in self.list(prefix):
            self.delete(path)

    def digest(self, path: str) -> dict[str, Any]:
        """``file_digest`` of the object at ``path``. Raises: StoreNotFoundError if missing."""
        return file_digest(self.get_bytes(path))

    def step_manifest(self, kind: str, key: str, *,
                      known: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
        """Size and SHA-256 of every output under the step's folder, by path relative to it.

        Args:
            known: Digests by store path of files this process wrote (not read back); the
                rest are hashed from the store, streaming.
        """
        base, known = step_dir(kind, key), known or {}
        files: dict[str, Any] = {}
        for path in self.list(base):
            rel = path[len(base) + 1 :]
            if is_vouched(rel):
                files[rel] = dict(known[path]) if path in known else self.digest(path)
        return files

    def put_marker(self, kind: str, key: str, meta: dict[str, Any], *,
                   files: Mapping[str, Any] | None = None,
                   inputs: Mapping[str, str | None] | None = None) -> None:
        """Declare a step done. Call this last, after every output is written.

        Args:
            files: ``step_manifest`` of the outputs the marker vouches for.
            inputs: Input step key -> the ``digest`` of its marker this step was built from.
        """
        integrity: dict[str, Any] = {}
        if files is not None:
            integrity = {"files": dict(files), "digest": manifest_digest(files)}
        if inputs is not None:
            integrity["inputs"] = {k: d for k, d in inputs.items() if d}
        # The identity fields come last so that ``meta`` cannot make the marker unreadable.
        doc = {"finished_at": time.time(), **meta, **integrity,
               "format_version": MARKER_FORMAT_VERSION, "kind": kind, "key": key}
        self.put_json(f"{step_dir(kind, key)}/{MARKER}", doc)

    def invalidate_marker(self, kind: str, key: str, reason: str, *,
                          digest: str | None = None) -> str | None:
        """Move the step's marker aside with ``reason``: the step is no longer done.

        Args:
            digest: Move it only if it is still the marker with this ``digest`` (a marker a
                redone step wrote since is left alone).

        Returns: Where the marker went, or None if there was none (or another one) to move.
        """
        marker = self.get_marker(kind, key)
        if marker is None or (digest is not None and marker.get("digest") != digest):
            return None
        aside = f"{step_dir(kind, key)}/{INVALID_DIR}/{time.time_ns()}.json"
        self.put_json(aside, {"reason": reason, "at": time.time(), "marker": marker})
        self.delete(f"{step_dir(kind, key)}/{MARKER}")  # after the copy: the reason is never lost
        log.warning("%s/%s is no longer done (%s); its marker is at %s", kind, key, reason, aside)
        return aside

    def read_vouched(self, kind: str, key: str, rel: str, *,
                     marker: Mapping[str, Any] | None = None) -> bytes:
        """Read output ``rel`` of a done step, checked against its marker's size and SHA-256.

        Args:
            marker: The step's marker, if the caller has it (read otherwise).

        Raises:
            ArtifactDamagedError: If the output does not match (its marker is moved aside, so
                the step is recomputed) or the step is not done.
            StoreNotFoundError: If the output is missing and its marker does not vouch for it.
        """
        marker = marker if marker is not None else self.get_marker(kind, key)
        if marker is None:
            raise ArtifactDamagedError(f"step {kind}/{key[:12]} is not done; submit its spec again")
        path = f"{step_dir(kind, key)}/{rel}"
        files = marker.get("files")
        if files is None or not is_vouched(rel):  # a legacy marker vouches for nothing
            return self.get_bytes(path)
        try:
            data = self.get_bytes(path)
        except StoreNotFoundError:
            if rel not in files:
                raise
            problem = "is missing"
        else:
            problem = mismatch(files.get(rel), file_digest(data))
            if problem is None:
                return data
        raise self._damaged(kind, key, path, problem, digest=marker.get("digest"))

    def _damaged(self, kind: str, key: str, path: str, problem: str, *,
                 digest: str | None) -> ArtifactDamagedError:
        """Move the step's marker aside for ``problem`` and return the error that says so."""
        reason = f"{path} {problem}"
        aside = self.invalidate_marker(kind, key, reason, digest=digest)
        then = (f"its marker was moved to {aside}, so the next pass of the run recomputes it"
                if aside else "its marker was already moved aside or replaced")
        return ArtifactDamagedError(f"the output of step {kind}/{key[:12]} is damaged: {reason}; "
                                    f"{then} (submit the spec again if no run is going)")

    def get_marker(self, kind: str, key: str) -> dict[str, Any] | None:
        """The step's marker, or None when the step is not done.

        Raises: StoreError if the marker has a format this version cannot read.
        """
        path = f"{step_dir(kind, key)}/{MARKER}"
        try:
            doc = self.get_json(path)
        except StoreNotFoundError:
            return None
        except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
            raise StoreError(f"marker of {kind}/{key} at {self.uri}/{path} is not JSON ({e}); "
                             "delete it to rerun the step") from e
        if not isinstance(doc, dict):
            raise StoreError(f"marker of {kind}/{key} at {self.uri}/{path} is not a JSON object; "
                             "delete it to rerun the step")
        if doc.get("format_version") != MARKER_FORMAT_VERSION:
            raise StoreError(f"marker of {kind}/{key} has format_version "
                             f"{doc.get('format_version')!r}; upgrade nativejobs to read it")
        return doc

    def get_markers(self, refs: Sequence[tuple[str, str]]) -> list[dict[str, Any] | None]:
        """``get_marker`` of each (kind, key), in order, up to ``concurrency`` at once."""
        return self.map(lambda ref: self.get_marker(*ref), refs)

    def map(self, call: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``call`` (calls on this store) of each item, in order, up to ``concurrency`` at once."""
        width = min(self.concurrency, len(items))
        if width <= 1:
            return [call(item) for item in items]
        with ThreadPoolExecutor(width, thread_name_prefix="store") as pool:
            return list(pool.map(call, items))

    def is_done(self, kind: str, key: str) -> bool:
        return self.get_marker(kind, key) is not None


def _is_temp(name: str) -> bool:
    """Whether ``name`` is one of FileStore's in-flight temp files (``.NAME.XXXX.tmp``)."""
    return name.startswith(".") and name.endswith(".tmp")


class FileStore(Store):
    """A store in a local directory; atomic by write-to-temp then rename."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.uri = f"file://{self.root}"

    def _path(self, path: str) -> Path:
        full = (self.root / path).resolve()
        if full != self.root and self.root not in full.parents:
            raise StoreError(f"store path {path!r} escapes the store root {self.root}")
        return full

    def put_bytes(self, path: str, data: bytes) -> None:
        target = self._path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        # The name must match _is_temp, so list() hides temp files a killed writer left behind.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get_bytes(self, path: str) -> bytes:
        try:
            return self._path(path).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as e:
            raise StoreNotFoundError(f"{self.uri}/{path} does not exist") from e

    def digest(self, path: str) -> dict[str, Any]:
        h, size = hashlib.sha256(), 0
        try:
            with self._path(path).open("rb") as fh:
                while chunk := fh.read(_CHUNK):
                    h.update(chunk)
                    size += len(chunk)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as e:
            raise StoreNotFoundError(f"{self.uri}/{path} does not exist") from e
        return {"size": size, "sha256": h.hexdigest()}

    def exists(self, path: str) -> bool:
        return self._path(path).is_file()

    def sizes(self, prefix: str) -> dict[str, int]:
        base = self._path(prefix)
        if base.is_file():
            return {prefix.strip("/"): base.stat().st_size}
        if not base.is_dir():
            return {}
        out: dict[str, int] = {}
        for p in base.rglob("*"):
            if _is_temp(p.name):
                continue
            try:
                info = p.stat()
            except FileNotFoundError:  # deleted or moved aside since the walk saw it
                continue
            if stat.S_ISREG(info.st_mode):
                out[p.relative_to(self.root).as_posix()] = info.st_size
        return out

    def delete(self, path: str) -> None:
        full = self._path(path)
        if not full.is_dir():  # a directory is a prefix, not an object: nothing to delete
            full.unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        full = self._path(prefix)
        if full.is_dir():
            shutil.rmtree(full)
        else:  # like list(), a prefix naming one object covers that object
            full.unlink(missing_ok=True)


class S3Store(Store):
    """A store in an S3 bucket (AWS, MinIO or any S3-compatible service) through boto3."""

    concurrency = 16  # a small read or write is one round trip; boto3's client is thread-safe

    def __init__(self, bucket: str, prefix: str, *, endpoint_url: str | None = None) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.uri = f"s3://{bucket}/{self.prefix}".rstrip("/")
        cfg = Config(retries={"max_attempts": 8, "mode": "adaptive"},
                     s3={"addressing_style": "path"}, max_pool_connections=self.concurrency)
        # A session of its own: boto3's default session caches the credentials it first resolved
        # (later AWS_* changes are ignored) and is not safe to share between threads.
        session = boto3.session.Session()
        self._s3 = session.client("s3", endpoint_url=endpoint_url, config=cfg)

    def _key(self, path: str) -> str:
        path = path.strip("/")
        return f"{self.prefix}/{path}" if self.prefix else path

    def _call(self, what: str, fn: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(Bucket=self.bucket, **kwargs)
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404", "NotFound"):
                raise StoreNotFoundError(f"{self.uri}/{kwargs.get('Key', '')} does not exist") from e
            if code == "NoSuchBucket":
                raise StoreError(f"bucket {self.bucket!r} does not exist; create it or fix the "
                                 f"store URI {self.uri}") from e
            raise StoreError(f"S3 {what} on {self.uri} failed: {code or e}") from e
        except BotoCoreError as e:
            raise StoreError(f"S3 {what} on {self.uri} failed: {e}; check AWS_ENDPOINT_URL "
                             "and the AWS_* credentials") from e

    def put_bytes(self, path: str, data: bytes) -> None:
        self._call("put", self._s3.put_object, Key=self._key(path), Body=data)

    def get_bytes(self, path: str) -> bytes:
        return self._call("get", self._s3.get_object, Key=self._key(path))["Body"].read()

    def digest(self, path: str) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError

        body = self._call("get", self._s3.get_object, Key=self._key(path))["Body"]
        h, size = hashlib.sha256(), 0
        try:
            for chunk in body.iter_chunks(_CHUNK):
                h.update(chunk)
                size += len(chunk)
        except BotoCoreError as e:
            raise StoreError(f"S3 get on {self.uri} failed mid-read: {e}") from e
        return {"size": size, "sha256": h.hexdigest()}

    def exists(self, path: str) -> bool:
        try:
            self._call("head", self._s3.head_object, Key=self._key(path))
        except StoreNotFoundError:
            return False
        return True

    def sizes(self, prefix: str) -> dict[str, int]:
        root = f"{self.prefix}/" if self.prefix else ""
        want = self._key(prefix)
        # Objects under want/ or want itself, never siblings such as want + "c"; "" is everything.
        under = want.rstrip("/") + "/" if want.strip("/") else ""
        out: dict[str, int] = {}
        token: dict[str, str] = {}
        while True:
            page = self._call("list", self._s3.list_objects_v2, Prefix=want, **token)
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if key == want or key.startswith(under):
                    out[key[len(root) :]] = int(obj.get("Size", 0))
            if not page.get("IsTruncated"):
                return out
            token = {"ContinuationToken": page["NextContinuationToken"]}

    def delete(self, path: str) -> None:
        self._call("delete", self._s3.delete_object, Key=self._key(path))

    def delete_prefix(self, prefix: str) -> None:
        keys = [self._key(p) for p in self.list(prefix)]
        for start in range(0, len(keys), 1000):  # one request per 1,000 objects, S3's most
            batch = [{"Key": k} for k in keys[start:start + 1000]]
            reply = self._call("delete", self._s3.delete_objects, Delete={"Objects": batch, "Quiet": True})
            if errors := reply.get("Errors"):
                first = errors[0]
                raise StoreError(f"S3 delete on {self.uri} failed for {len(errors)} object(s), e.g. "
                                 f"{first.get('Key')}: {first.get('Code')} {first.get('Message', '')}")


def open_store(uri: str, *, endpoint_url: str | None = None) -> Store:
    """Open ``file:///abs/dir``, a plain local path, or ``s3://bucket/prefix``.

    Raises: StoreError if the scheme is not supported.
    """
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        path = parsed.path if parsed.scheme == "file" else uri
        if parsed.scheme == "file" and parsed.netloc:  # file://relative/dir
            path = parsed.netloc + parsed.path
        return FileStore(Path(path).expanduser())
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise StoreError(f"store URI {uri!r} names no bucket; use s3://BUCKET/PREFIX")
        return S3Store(parsed.netloc, parsed.path, endpoint_url=endpoint_url)
    raise StoreError(f"store URI {uri!r} has scheme {parsed.scheme!r}; use file:// or s3://")
