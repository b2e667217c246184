"""Process plumbing shared by the local backend and the processes it starts."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
from pathlib import Path

__all__ = ["die_with_parent"]

_PR_SET_PDEATHSIG = 1


def die_with_parent(*, grandparent: int | None = None) -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux; no-op elsewhere).

    Args:
        grandparent: The pid the parent must be a child of (a step forked by a fork server: the
            controller). The parent can die, or lose the controller, before the request takes
            effect; then this process exits at once instead of running on as an orphan.
    """
    parent = os.getppid()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)
    if grandparent is not None and _parent_of(parent) not in (grandparent, None):
        os._exit(1)


def _parent_of(pid: int) -> int | None:
    """The parent pid of ``pid`` (0 for a gone process), or None where /proc cannot tell."""
    if not os.path.exists("/proc/self/stat"):
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return 0
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])
