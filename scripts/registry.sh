#!/usr/bin/env bash
# A local image registry (CNCF Distribution, built from Go modules) through which the real
# node gets the project's images: only the layers it lacks move.
#
#   scripts/registry.sh build     ensure the pinned binary is in the cache; print its path
#   scripts/registry.sh up        start it on 127.0.0.1 (idempotent); print its host:port
#   scripts/registry.sh status    say whether it runs (exit 1 if not), where, how much it stores
#   scripts/registry.sh down      stop it (the stored layers stay, for the next push)
#
# Why: `docker save | ctr import` writes all 7 GB of the worker for every source change; a push
# to this registry and a pull from it move the one changed layer. Its blobs live under
# ${NATIVEJOBS_CACHE:-~/.cache/nativejobs}/registry/data across runs (delete the folder to free
# the disk; the next push fills it again). Port: NATIVEJOBS_REGISTRY_PORT (default 5055).
# Docker and containerd speak plain HTTP to it: 127.0.0.0/8 registries need no TLS.
set -euo pipefail

REGISTRY_VERSION="v3.1.2"
REGISTRY_MODULE="github.com/distribution/distribution/v3/cmd/registry"

CACHE_ROOT="${NATIVEJOBS_CACHE:-${HOME}/.cache/nativejobs}"
BIN_DIR="${CACHE_ROOT}/registry/${REGISTRY_VERSION}/bin"
BIN="${BIN_DIR}/registry"
DATA_DIR="${CACHE_ROOT}/registry/data"
RUN_DIR="${CACHE_ROOT}/registry/run"
PORT="${NATIVEJOBS_REGISTRY_PORT:-5055}"
ADDR="127.0.0.1:${PORT}"

die() { echo "registry.sh: error: $*" >&2; exit 1; }
log() { echo "registry.sh: $*" >&2; }

alive() {  # alive PID: running and not a zombie
  local st
  st="$(ps -o stat= -p "$1" 2>/dev/null)" || return 1
  [[ "${st}" != Z* ]]
}

build() {
  [[ -x "${BIN}" ]] && { echo "${BIN}"; return; }
  local go_bin stage try
  go_bin="$(command -v go || echo /usr/local/go/bin/go)"
  [[ -x "${go_bin}" ]] || die "no 'go' on PATH; install Go >= 1.24 to build the registry"
  mkdir -p "${BIN_DIR}"
  exec 9>"${BIN_DIR}/.build.lock"
  flock 9  # one builder at a time; the rest reuse its binary
  if [[ ! -x "${BIN}" ]]; then
    stage="$(mktemp -d "${BIN_DIR}/.stage.XXXXXX")"
    log "building ${REGISTRY_MODULE}@${REGISTRY_VERSION} (first time: a few minutes)"
    for try in 1 2 3; do  # a module download can time out on a busy machine
      (cd "${stage}" && GOBIN="${stage}" GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0 \
         nice -n "${NATIVEJOBS_BUILD_NICE:-19}" "${go_bin}" install -trimpath -ldflags "-s -w" \
         "${REGISTRY_MODULE}@${REGISTRY_VERSION}" >&2) && break
      ((try < 3)) || { rm -rf "${stage}"; die "go install ${REGISTRY_MODULE}@${REGISTRY_VERSION} failed 3 times (see above)"; }
      log "go install failed (try ${try} of 3); trying again in $((try * 10)) s"
      sleep $((try * 10))
    done
    mv -f "${stage}/registry" "${BIN}"  # atomic: a killed build leaves no half binary
    rm -rf "${stage}"
  fi
  flock -u 9
  echo "${BIN}"
}

running_pid() {  # the pid of our registry, if it runs
  local pid
  pid="$(cat "${RUN_DIR}/registry.pid" 2>/dev/null || true)"
  [[ -n "${pid}" ]] && alive "${pid}" && echo "${pid}"
}

live() { curl -fsS -o /dev/null --max-time 2 "http://${ADDR}/v2/"; }

up() {
  local bin pid i
  if pid="$(running_pid)" && live; then echo "${ADDR}"; return; fi
  bin="$(build)"
  mkdir -p "${DATA_DIR}" "${RUN_DIR}"
  exec 9>"${RUN_DIR}/.up.lock"
  flock 9
  if pid="$(running_pid)" && live; then echo "${ADDR}"; return; fi
  live 2>/dev/null && die "something else answers on ${ADDR}; set NATIVEJOBS_REGISTRY_PORT to a free port"
  cat >"${RUN_DIR}/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${DATA_DIR}
  delete:
    enabled: true
http:
  addr: ${ADDR}
EOF
  # No inherited descriptors: a daemon holding a caller's lock (node.sh's load lock on fd 7,
  # our fd 9) would keep it locked for its whole life, and every later load would hang.
  OTEL_TRACES_EXPORTER=none setsid "${bin}" serve "${RUN_DIR}/config.yml" \
    </dev/null >"${RUN_DIR}/registry.log" 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
  pid=$!
  echo "${pid}" >"${RUN_DIR}/registry.pid"
  for i in $(seq 1 100); do
    live 2>/dev/null && { log "registry ${REGISTRY_VERSION} at ${ADDR} (pid ${pid}, data ${DATA_DIR})"; echo "${ADDR}"; return; }
    alive "${pid}" || { tail -n 20 "${RUN_DIR}/registry.log" >&2; die "the registry exited at start; log above (${RUN_DIR}/registry.log)"; }
    sleep 0.1
  done
  die "the registry did not answer http://${ADDR}/v2/ within 10 s; log: ${RUN_DIR}/registry.log"
}

down() {
  local pid i
  pid="$(running_pid)" || { log "not running"; return 0; }
  kill "${pid}" 2>/dev/null || true
  for i in $(seq 1 50); do alive "${pid}" || break; sleep 0.1; done
  alive "${pid}" && kill -9 "${pid}" 2>/dev/null || true
  rm -f "${RUN_DIR}/registry.pid"
  log "stopped the registry (pid ${pid}); its layers stay in ${DATA_DIR}"
}

status() {  # exits 1 when it does not run
  local pid
  echo "data        ${DATA_DIR} ($(du -sh "${DATA_DIR}" 2>/dev/null | cut -f1 || echo 0))"
  if pid="$(running_pid)"; then echo "registry    running at ${ADDR} (pid ${pid})"; else echo "registry    NOT running"; return 1; fi
}

case "${1:-}" in
  build) build ;;
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 {build|up|status|down}" >&2; exit 2 ;;
esac
