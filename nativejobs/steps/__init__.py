"""The code that runs inside a job: one module per step kind, one shared entrypoint.

``python -m nativejobs.steps run --store URI --step KIND/KEY`` runs one step. ``REGISTRY``
imports a step's module only when its kind is looked up, so importing this package (or a leaf
module inside it) loads no step; step modules import torch and friends only inside ``setup()``.
"""

from __future__ import annotations

from typing import Any

from nativejobs.registry import Registry

__all__ = ["KINDS", "REGISTRY"]

KINDS = ("prepare", "translate", "train", "evaluate", "judge", "summarize")  # in DAG order
REGISTRY: Registry[Any] = Registry("step kind")
for _kind in KINDS:
    REGISTRY.register(_kind, f"nativejobs.steps.{_kind}:STEP")

