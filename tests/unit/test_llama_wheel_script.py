"""scripts/llama-wheel.sh: llama-cpp-python is built once per pinned version, for any AVX2 CPU.

pip's own build of llama.cpp targets the CPU it runs on and is cached by the sdist alone; built
that way on a CPU with AMX and AVX-512, it crashed the test server (SIGSEGV on its first
completion). A
stand-in for Python records how pip was asked to build, so no compiler runs here.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

FAKE_PYTHON = """#!/usr/bin/env bash
# Called as: PYTHON -m pip wheel -q --no-deps --no-cache-dir -w DIR SPEC
echo "CMAKE_ARGS=${CMAKE_ARGS:-} $*" >> "$CALLS"
out=""; prev=""
for a in "$@"; do [[ "$prev" == -w ]] && out="$a"; prev="$a"; done
version="${@: -1}"; version="${version#*==}"
touch "$out/llama_cpp_python-${version}-py3-none-linux_x86_64.whl"
"""


def run_script(repo_root: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    fake = tmp_path / "python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    calls = tmp_path / "calls.log"
    calls.touch()
    env = {**os.environ, "NATIVEJOBS_CACHE": str(tmp_path / "cache"), "CALLS": str(calls)}
    done = subprocess.run(["bash", str(repo_root / "scripts" / "llama-wheel.sh"), str(fake)],
                          capture_output=True, text=True, env=env, timeout=60)
    return done, calls.read_text().splitlines()


def pinned_version(repo_root: Path) -> str:
    pin = re.search(r'"llama-cpp-python\[server\]==([0-9.]+)"', (repo_root / "pyproject.toml").read_text())
    assert pin, "the dev extra pins llama-cpp-python exactly"
    return pin.group(1)


def test_the_pinned_version_is_built_portable_once_and_then_reused(repo_root: Path, tmp_path: Path) -> None:
    version = pinned_version(repo_root)

    first, calls = run_script(repo_root, tmp_path)
    assert first.returncode == 0, first.stderr
    folder = Path(first.stdout.strip())
    assert folder == tmp_path / "cache" / "wheels" / f"llama-cpp-python-{version}-portable"
    assert [w.name for w in folder.iterdir()] == [f"llama_cpp_python-{version}-py3-none-linux_x86_64.whl"]
    assert len(calls) == 1 and "-DGGML_NATIVE=OFF" in calls[0] and "--no-cache-dir" in calls[0]
    assert calls[0].endswith(f"llama-cpp-python=={version}")

    second, calls = run_script(repo_root, tmp_path)
    assert second.returncode == 0 and second.stdout.strip() == str(folder)
    assert len(calls) == 1  # nothing built the second time


def test_a_failed_build_leaves_no_wheel_behind(repo_root: Path, tmp_path: Path) -> None:
    failing = tmp_path / "python"
    failing.write_text("#!/usr/bin/env bash\ntouch \"${@: -2:1}/partial.whl\"; exit 1\n")
    failing.chmod(0o755)
    env = {**os.environ, "NATIVEJOBS_CACHE": str(tmp_path / "cache")}
    done = subprocess.run(["bash", str(repo_root / "scripts" / "llama-wheel.sh"), str(failing)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode != 0
    wheels = tmp_path / "cache" / "wheels"
    assert not (wheels / f"llama-cpp-python-{pinned_version(repo_root)}-portable").exists()
