"""Input files on the submitter's disk, mirrored into the store for a cluster run.

A spec may name local files (``data.native.path``, a benchmark's ``path``, ...). A pod cannot
read the submitter's disk, so ``submit --backend k8s`` uploads them to ``inputs/host/<absolute
path>`` in the run's store, and a step that runs on a cluster reads that copy: its params'
local ``path``/``dev_path`` values are rewritten to the mirror's ``s3://`` URI as the step
starts. Step keys keep the original paths, so a cluster run and a local run of one spec share
every step (and its cached result).
"""

from __future__ import annotations

import glob
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nativejobs.errors import SpecError

if TYPE_CHECKING:  # annotations only: the planner imports this module and stays light
    from nativejobs.spec import ExperimentSpec
    from nativejobs.store import Store

__all__ = ["MIRROR_ENV", "MIRROR_PREFIX", "is_host_path", "local_inputs", "mirror_params",
           "mirror_uri", "names_host_file", "upload_host_inputs"]

MIRROR_PREFIX = "inputs/host"
# Set on step pods (k8s/render.py): the store URI of the mirror; unset = read paths as given.
MIRROR_ENV = "NATIVEJOBS_HOST_INPUTS"
_PATH_KEYS = ("path", "dev_path")


def _is_local(path: Any) -> bool:
    return isinstance(path, str) and path != "" and "://" not in path


def is_host_path(key: str, value: Any) -> bool:
    """Whether one step param names a file on the submitter's disk: a ``path``/``dev_path``
    that is a non-empty string and no URI (``s3://`` and hub sources travel by themselves)."""
    return key in _PATH_KEYS and _is_local(value)


def names_host_file(params: Any) -> bool:
    """Whether ``params`` (a step's, at any depth) hold a host path (``is_host_path``)."""
    stack = [params]
    while stack:  # iterative, into containers only: the planner asks this of every step
        node = stack.pop()
        if type(node) is dict:  # params are plain JSON values (model_dump)
            if is_host_path("path", node.get("path")) or is_host_path("dev_path", node.get("dev_path")):
                return True
            values = node.values()
        elif type(node) is list:
            values = node
        else:
            continue
        for v in values:
            if type(v) is dict or type(v) is list:
                stack.append(v)
    return False


def local_inputs(spec: ExperimentSpec) -> list[tuple[str, str]]:
    """``(field, path)`` of every input the spec names on this machine's disk; ``s3://`` and
    hub sources travel by themselves."""
    named: list[tuple[str, str | None]] = [("data.native.path", spec.data.native.path),
                                           ("data.english.path", spec.data.english.path)]
    named += [(f"conditions[{i}].source.path", c.source.path)
              for i, c in enumerate(spec.conditions) if c.source]
    for i, b in enumerate(spec.benchmarks):
        named += [(f"benchmarks[{i}].path", b.path), (f"benchmarks[{i}].dev_path", b.dev_path)]
    return [(field, path) for field, path in named if _is_local(path)]


def mirror_uri(store_uri: str) -> str:
    return f"{store_uri.rstrip('/')}/{MIRROR_PREFIX}"


def mirror_params(params: Any, mirror: str | None) -> Any:
    """``params`` with every absolute host path (``is_host_path``) pointing into ``mirror``
    (unchanged when ``mirror`` is None). Pure."""
    if mirror is None:
        return params
    if isinstance(params, list):
        return [mirror_params(v, mirror) for v in params]
    if not isinstance(params, dict):
        return params
    out = {}
    for k, v in params.items():
        # The mirror is keyed by absolute path; a spec read from a file has only those.
        if is_host_path(k, v) and v.startswith("/"):
            out[k] = f"{mirror.rstrip('/')}{v}"
        else:
            out[k] = mirror_params(v, mirror)
    return out


def _files_of(path: str) -> list[Path]:
    """The files a spec path may name: ``{lang}``/``{system}`` templates and globs expanded,
    folders walked."""
    pattern = path.replace("{lang}", "*").replace("{system}", "*")
    out: list[Path] = []
    for hit in sorted(glob.glob(pattern)) or ([pattern] if os.path.exists(pattern) else []):
        p = Path(hit)
        out += sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    return out


def upload_host_inputs(spec: ExperimentSpec, store: Store) -> list[str]:
    """Copy every local input of ``spec`` into the store's mirror; returns the files sent.

    A file whose content the mirror holds already (by SHA-256, kept in ``_digests.json``) is
    not sent again. Raises: SpecError naming each field whose path matches no file.
    """
    named = [(field, path, _files_of(path)) for field, path in local_inputs(spec)]
    missing = [f"{field}: {path} matches no file on this machine; fix the path or give an "
               "s3:// URI" for field, path, files in named if not files]
    if missing:
        raise SpecError(missing)
    index = f"{MIRROR_PREFIX}/_digests.json"
    digests: dict[str, str] = store.get_json(index) if store.exists(index) else {}
    sent: list[str] = []
    # Several fields often name one folder (paper.yaml: the Aya folder six times): each file once.
    for f in dict.fromkeys(f for _, _, files in named for f in files):
        data = f.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digests.get(str(f)) == digest:
            continue
        store.put_bytes(f"{MIRROR_PREFIX}{f}", data)
        digests[str(f)] = digest
        sent.append(str(f))
    if sent:
        store.put_json(index, digests)
    return sent
