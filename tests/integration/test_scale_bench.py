"""bench/scale.py at 1,000 steps on the real local control plane (kwok GPU nodes).

The bench runs 1,000 simulated GPU steps twice (the kubernetes client alone, then nativejobs'
controller) and prints its figures. This test checks that it completes, that no step failed,
and that every figure is printed with a value; it asserts no speed: speed is measured in
benches (bench/RESULTS.md), never asserted in tests.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.cluster_fixtures import KubeCluster

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench" / "scale.py"


def _figures() -> tuple[str, ...]:
    """The figure names, from the bench itself (importing it needs no cluster)."""
    spec = importlib.util.spec_from_file_location("bench_scale", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return tuple(module.FIGURES)


def test_the_scale_bench_runs_1000_steps_and_prints_every_figure(kube: KubeCluster) -> None:
    if not kube.local:
        pytest.fail("bench/scale.py needs the local kwok cluster (scripts/cluster.sh): it adds fake "
                    "GPU nodes; unset KUBECONFIG or point it at a scripts/cluster.sh cluster",
                    pytrace=False)
    done = subprocess.run(
        [sys.executable, str(BENCH), "--steps", "1000", "--duration", "5s", "--timeout", "1500"],
        env=kube.env(), capture_output=True, text=True, timeout=3600, check=False)
    out = done.stdout
    print(out)  # the figures, in the CI log (pytest -s); bench/RESULTS.md records them
    assert done.returncode == 0, f"bench exited {done.returncode}:\n{out[-3000:]}\n{done.stderr[-3000:]}"

    assert "### 1000 steps" in out
    rows = {m[1].strip(): m[2] for m in re.finditer(r"^\| ([^|]+) \|(.*)$", out, flags=re.M)}
    for figure in _figures():
        assert figure in rows, f"{figure!r} missing from:\n{out}"
        assert re.search(r"\d", rows[figure]) and "nan" not in rows[figure], (figure, rows[figure])
    # Both ways ran every step to success, none retried (the simulated steps never fail).
    assert re.search(r"^\| failed / retried steps \| 0 / 0 \| 0 / 0 \|", out, flags=re.M), out
