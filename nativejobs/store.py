"""One artifact store over ``file://`` and ``s3://`` URIs.

Layout (relative to the store root)::

    steps/<kind>/<key>/            outputs of one step
    steps/<kind>/<key>/_step.json  the step definition the entrypoint runs
    steps/<kind>/<key>/_SUCCESS.json   written last; the only proof a step is done
    runs/<name>/                   per-run state: spec, plan, attempts, logs

Writes are atomic: a reader sees the old object, the new one, or nothing.
S3 settings come from the standard AWS environment (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``/``AWS_ENDPOINT_URL_S3``, ``AWS_REGION``), so
AWS S3, MinIO and other S3-compatible stores all work; ``endpoint_url`` overrides the endpoint.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from nativejobs.errors import StoreError, StoreNotFoundError

__all__ = ["MARKER", "MARKER_FORMAT_VERSION", "FileStore", "S3Store", "Store", "open_store", "step_dir"]

MARKER = "_SUCCESS.json"
MARKER_FORMAT_VERSION = 1


def step_dir(kind: str, key: str) -> str:
    """Store prefix of one step's outputs."""
    return f"steps/{kind}/{key}"


class Store(ABC):
    """Artifact storage addressed by '/'-separated relative paths."""

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
    def list(self, prefix: str) -> list[str]:
        """Paths of all objects under ``prefix`` (recursive), relative to the root, sorted."""

    @abstractmethod
    def delete(self, path: str) -> None:
        """Remove one object; a missing object is not an error."""

    # -- derived helpers: the same for every backend ----------------------------------------
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

    def put_marker(self, kind: str, key: str, meta: dict[str, Any]) -> None:
        """Declare a step done. Call this last, after every output is written."""
        # The identity fields come last so that ``meta`` cannot make the marker unreadable.
        doc = {"finished_at": time.time(), **meta,
               "format_version": MARKER_FORMAT_VERSION, "kind": kind, "key": key}
        self.put_json(f"{step_dir(kind, key)}/{MARKER}", doc)

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

    def exists(self, path: str) -> bool:
        return self._path(path).is_file()

    def list(self, prefix: str) -> list[str]:
        base = self._path(prefix)
        if base.is_file():
            return [prefix.strip("/")]
        if not base.is_dir():
            return []
        return sorted(p.relative_to(self.root).as_posix() for p in base.rglob("*")
                      if p.is_file() and not _is_temp(p.name))

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

    def __init__(self, bucket: str, prefix: str, *, endpoint_url: str | None = None) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.uri = f"s3://{bucket}/{self.prefix}".rstrip("/")
        cfg = Config(retries={"max_attempts": 8, "mode": "adaptive"},
                     s3={"addressing_style": "path"})
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

    def exists(self, path: str) -> bool:
        try:
            self._call("head", self._s3.head_object, Key=self._key(path))
        except StoreNotFoundError:
            return False
        return True

    def list(self, prefix: str) -> list[str]:
        root = f"{self.prefix}/" if self.prefix else ""
        want = self._key(prefix)
        # Objects under want/ or want itself, never siblings such as want + "c"; "" is everything.
        under = want.rstrip("/") + "/" if want.strip("/") else ""
        out: list[str] = []
        token: dict[str, str] = {}
        while True:
            page = self._call("list", self._s3.list_objects_v2, Prefix=want, **token)
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if key == want or key.startswith(under):
                    out.append(key[len(root) :])
            if not page.get("IsTruncated"):
                return sorted(out)
            token = {"ContinuationToken": page["NextContinuationToken"]}

    def delete(self, path: str) -> None:
        self._call("delete", self._s3.delete_object, Key=self._key(path))


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
