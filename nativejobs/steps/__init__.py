"""The code that runs inside a job: one module per step kind, one shared entrypoint.

``python -m nativejobs.steps run --store URI --step KIND/KEY`` runs one step. Step modules
import torch and friends only inside ``setup()``, so planning stays light.
"""

from __future__ import annotations

from nativejobs.steps import evaluate, judge, prepare, summarize, train, translate

__all__ = ["REGISTRY", "VERSIONS"]

_MODULES = (prepare, translate, train, evaluate, judge, summarize)
REGISTRY = {m.KIND: m.STEP for m in _MODULES}
VERSIONS: dict[str, int] = {m.KIND: m.VERSION for m in _MODULES}
