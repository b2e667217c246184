"""scripts/registry.sh, the local registry the real node's images travel through."""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "registry.sh"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_registry_daemon_holds_no_lock_of_the_script_that_started_it(tmp_path: Path) -> None:
    """node.sh starts the registry while it holds its load lock (fd 7): a daemon that inherited
    that descriptor kept the lock for its whole life, and every later image load hung."""
    built = Path(subprocess.run([str(SCRIPT), "build"], check=True, capture_output=True,
                                text=True, timeout=900).stdout.strip())
    version_dir = built.parents[1].name  # <cache>/registry/<version>/bin/registry
    own = tmp_path / "cache" / "registry" / version_dir / "bin"
    own.mkdir(parents=True)
    shutil.copy2(built, own / "registry")
    env = {**os.environ, "NATIVEJOBS_CACHE": str(tmp_path / "cache"),
           "NATIVEJOBS_REGISTRY_PORT": str(_free_port())}
    lock = tmp_path / "load.lock"
    up = f'exec 7>"{lock}"; flock 7; exec "{SCRIPT}" up'
    subprocess.run(["bash", "-c", up], check=True, env=env, capture_output=True, timeout=120)
    try:
        pid = (tmp_path / "cache" / "registry" / "run" / "registry.pid").read_text().strip()
        held = [os.readlink(f) for f in Path(f"/proc/{pid}/fd").iterdir()]
        assert not [f for f in held if f.endswith(".lock")], held
        with lock.open("w") as f:  # free again once the script is gone, though its daemon runs
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        subprocess.run([str(SCRIPT), "down"], env=env, capture_output=True, timeout=60)
