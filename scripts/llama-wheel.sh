#!/usr/bin/env bash
# scripts/llama-wheel.sh PYTHON: build llama-cpp-python (the version pyproject.toml's dev extra
# pins) as a portable wheel, once, and print the folder that holds it.
#
# pip builds llama.cpp for the CPU it builds on (-march=native) and caches that wheel by the
# sdist alone, so what the tests run depends on the machine that filled the cache: 0.3.36 built
# natively on a CPU with AMX and AVX-512 died with SIGSEGV on its first completion there.
# GGML_NATIVE=OFF targets AVX2, which every x86-64 CI machine here has; the wheel is cached per
# version under ${NATIVEJOBS_CACHE:-~/.cache/nativejobs}/wheels/ (about 4 min to build on 2 cores).
set -euo pipefail
PY="${1:?usage: scripts/llama-wheel.sh PYTHON}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VERSION="$(sed -n 's/.*"llama-cpp-python\[server\]==\([0-9.]*\)".*/\1/p' "${ROOT}/pyproject.toml")"
[[ -n "${VERSION}" ]] || { echo "llama-wheel: no llama-cpp-python[server]==X pin in pyproject.toml" >&2; exit 1; }
DIR="${NATIVEJOBS_CACHE:-${HOME}/.cache/nativejobs}/wheels/llama-cpp-python-${VERSION}-portable"
if ! compgen -G "${DIR}/llama_cpp_python-${VERSION}-*.whl" >/dev/null; then
  echo "llama-wheel: building llama-cpp-python ${VERSION} for any AVX2 CPU (minutes, once)" >&2
  rm -rf "${DIR}.tmp" && mkdir -p "${DIR}.tmp"
  CMAKE_ARGS="-DGGML_NATIVE=OFF" "${PY}" -m pip wheel -q --no-deps --no-cache-dir \
    -w "${DIR}.tmp" "llama-cpp-python==${VERSION}" >&2
  rm -rf "${DIR}" && mv "${DIR}.tmp" "${DIR}"  # whole or absent: an interrupted build leaves no wheel
fi
echo "${DIR}"
