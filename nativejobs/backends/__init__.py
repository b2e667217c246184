"""Where steps run: ``local`` (processes on this machine) or ``k8s`` (batch/v1 Jobs,
``nativejobs.k8s.backend``); ``open_backend`` starts either."""

from __future__ import annotations

import os
from pathlib import Path

from nativejobs.orchestrate import Backend

__all__ = ["BACKENDS", "open_backend"]

BACKENDS = ("local", "k8s")


def open_backend(kind: str, *, experiment: str, store_uri: str, max_parallel: int,
                 namespace: str | None = None, cluster_config: Path | None = None,
                 kubeconfig: Path | None = None, release: str = "nativejobs") -> Backend:
    """A started backend of ``kind`` for ``experiment``'s steps.

    Raises: ValueError for an unknown kind (the CLI checks it first); as ``k8s.backend.open_backend``.
    """
    if kind == "local":
        from nativejobs.backends.local import LocalBackend, log_dir_for
        from nativejobs.engines.models import cache_dir

        return LocalBackend(log_dir=log_dir_for(cache_dir(), store_uri),
                            threads_per_step=max(1, (os.cpu_count() or 1) // max_parallel))
    if kind == "k8s":
        from nativejobs.k8s.backend import open_backend as open_k8s

        return open_k8s(experiment, namespace=namespace, cluster_config=cluster_config,
                        kubeconfig=kubeconfig, release=release)
    raise ValueError(f"unknown backend {kind!r}; use one of {', '.join(BACKENDS)}")
