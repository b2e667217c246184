#!/usr/bin/env bash
# A real MinIO server for local runs and the integration tests, built from source with Go.
#
#   scripts/minio.sh build          ensure the pinned binary is in the cache; print its path
#   eval "$(scripts/minio.sh start)" start a server on 127.0.0.1; export its AWS_* settings
#   scripts/minio.sh stop [PIDFILE] stop it (PIDFILE defaults to $MINIO_PID_FILE)
#
# The binary is cached per version under ${NATIVEJOBS_CACHE:-~/.cache/nativejobs}/minio/,
# outside the repo; go's own build and module caches stay in their defaults.
# Settings: MINIO_PORT (default: a free port), MINIO_DATA (default: a fresh temp dir),
# MINIO_ROOT_USER / MINIO_ROOT_PASSWORD (default: nativejobs / nativejobs-secret).
set -euo pipefail

# Why a pseudo-version: MinIO's RELEASE.* tags are not semver, and the Go module proxy we can
# reach serves only this commit (the last on master, 2026-02-12; the repo is archived since).
MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"
MINIO_MODULE="github.com/minio/minio"

CACHE_ROOT="${NATIVEJOBS_CACHE:-${HOME}/.cache/nativejobs}"
BIN_DIR="${CACHE_ROOT}/minio/${MINIO_VERSION}/bin"
BIN="${BIN_DIR}/minio"

die() { echo "minio.sh: error: $*" >&2; exit 1; }
log() { echo "minio.sh: $*" >&2; }

find_go() {
  if command -v go >/dev/null 2>&1; then command -v go
  elif [[ -x /usr/local/go/bin/go ]]; then echo /usr/local/go/bin/go
  else die "no 'go' on PATH or at /usr/local/go/bin/go; install Go >= 1.24 to build MinIO"
  fi
}

build() {
  [[ -x "${BIN}" ]] && { echo "${BIN}"; return; }
  local go_bin stage
  go_bin="$(find_go)"
  mkdir -p "${BIN_DIR}"
  # One builder at a time (parallel test sessions); the rest wait, then reuse its binary.
  exec 9>"${BIN_DIR}/.build.lock"
  flock 9
  if [[ ! -x "${BIN}" ]]; then
    stage="$(mktemp -d "${BIN_DIR}/.stage.XXXXXX")"
    log "building ${MINIO_MODULE}@${MINIO_VERSION} with $("${go_bin}" version) (first time: minutes)"
    # Run outside any module/workspace so go install resolves only the pinned version;
    # GOTOOLCHAIN=local: never download a different Go toolchain.
    # Up to 3 tries: a module download can time out on a busy machine.
    local try
    for try in 1 2 3; do
      (cd "${stage}" && GOBIN="${stage}" GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0 \
         "${go_bin}" install -trimpath -ldflags "-s -w" "${MINIO_MODULE}@${MINIO_VERSION}" >&2) && break
      if ((try == 3)); then
        rm -rf "${stage}"
        die "go install ${MINIO_MODULE}@${MINIO_VERSION} failed 3 times (see above); check that the Go" \
            "module proxy ($("${go_bin}" env GOPROXY)) is reachable and Go is >= 1.24"
      fi
      log "go install failed (try ${try} of 3); trying again in $((try * 10)) s"
      sleep $((try * 10))
    done
    mv -f "${stage}/minio" "${BIN}"  # atomic: a killed build never leaves a half binary
    rm -rf "${stage}"
  fi
  flock -u 9
  echo "${BIN}"
}

free_port() {  # free_port [PORT]: print PORT if it is free on 127.0.0.1 (else fail), or any free port
  python3 - "${1:-0}" <<'PY'
import socket, sys
with socket.socket() as s:
    try:
        s.bind(("127.0.0.1", int(sys.argv[1])))
    except OSError as e:
        sys.exit(f"minio.sh: error: port {sys.argv[1]} on 127.0.0.1 is taken ({e}); unset MINIO_PORT or free it")
    print(s.getsockname()[1])
PY
}

alive() {  # alive PID: running and not a zombie (kill -0 succeeds on zombies too)
  local st
  st="$(ps -o stat= -p "$1" 2>/dev/null)" || return 1
  [[ "${st}" != Z* ]]
}

wait_live() {  # wait_live URL PID LOGFILE
  local i
  for i in $(seq 1 300); do
    curl -fsS -o /dev/null --max-time 1 "$1/minio/health/live" 2>/dev/null && return 0
    if ! alive "$2"; then
      tail -n 20 "$3" >&2
      die "minio exited during startup; its log (tail above): $3"
    fi
    sleep 0.1
  done
  kill "$2" 2>/dev/null || true
  die "minio did not answer $1/minio/health/live within 30 s; log: $3"
}

start() {
  local bin port run_dir data pid_file log_file url pid
  bin="$(build)"
  # Check MINIO_PORT too: a server already there would answer our health check.
  port="$(free_port "${MINIO_PORT:-0}")"
  run_dir="$(mktemp -d "${TMPDIR:-/tmp}/nativejobs-minio.XXXXXX")"
  data="${MINIO_DATA:-${run_dir}/data}"
  pid_file="${run_dir}/minio.pid"
  log_file="${run_dir}/minio.log"
  url="http://127.0.0.1:${port}"
  mkdir -p "${data}"
  # MINIO_BROWSER=off: no web console, so nothing listens beyond the one loopback port.
  MINIO_ROOT_USER="${MINIO_ROOT_USER:-nativejobs}" \
  MINIO_ROOT_PASSWORD="${MINIO_ROOT_PASSWORD:-nativejobs-secret}" \
  MINIO_BROWSER=off MINIO_UPDATE=off \
    setsid "${bin}" server --quiet --address "127.0.0.1:${port}" "${data}" \
      </dev/null >"${log_file}" 2>&1 &
  pid=$!
  echo "${pid}" >"${pid_file}"
  wait_live "${url}" "${pid}" "${log_file}"
  log "minio ${MINIO_VERSION} is live at ${url} (pid ${pid}, data ${data}, log ${log_file})"
  cat <<EOF
export AWS_ENDPOINT_URL=${url}
export AWS_ACCESS_KEY_ID=${MINIO_ROOT_USER:-nativejobs}
export AWS_SECRET_ACCESS_KEY=${MINIO_ROOT_PASSWORD:-nativejobs-secret}
export AWS_REGION=us-east-1
export MINIO_PID_FILE=${pid_file}
EOF
}

stop() {
  local pid_file="${1:-${MINIO_PID_FILE:-}}" pid i
  [[ -n "${pid_file}" ]] || die "stop needs a PID file: scripts/minio.sh stop PIDFILE (or set MINIO_PID_FILE)"
  [[ -f "${pid_file}" ]] || die "PID file ${pid_file} does not exist; is minio running?"
  pid="$(cat "${pid_file}")"
  if kill "${pid}" 2>/dev/null; then
    for i in $(seq 1 100); do alive "${pid}" || break; sleep 0.1; done
    if alive "${pid}"; then kill -9 "${pid}" 2>/dev/null || true; fi
  fi
  rm -f "${pid_file}"
  # The run dir is ours (made by start); the data inside goes with it, a MINIO_DATA dir does not.
  case "$(dirname "${pid_file}")" in
    "${TMPDIR:-/tmp}"/nativejobs-minio.*) rm -rf "$(dirname "${pid_file}")" ;;
  esac
  log "stopped minio (pid ${pid})"
}

case "${1:-}" in
  build) build ;;
  start) start ;;
  stop) shift; stop "$@" ;;
  *) echo "usage: $0 {build|start|stop [PIDFILE]}" >&2; exit 2 ;;
esac
