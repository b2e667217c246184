#!/usr/bin/env bash
# A container runtime for the real node and the image builds: containerd and the Docker engine,
# from Debian's packages, started without systemd.
#
#   scripts/runtime.sh up       install what is missing, start containerd and dockerd (idempotent)
#   scripts/runtime.sh status   say what runs (exit 1 if either is down)
#   scripts/runtime.sh down     stop both (images and containers stay on disk)
#
# Needs root (apt-get, daemons). Packages: docker.io, containerd, runc,
# containernetworking-plugins (the CNI plugins in /usr/lib/cni), debootstrap (the base image).
#
# containerd gets the settings a real node on this kind of machine needs (../shared/research/
# real-node.md): the CRI plugin restricts oom_score_adj (root here lacks CAP_SYS_RESOURCE, and
# runc fails every sandbox otherwise), cgroupfs (no systemd), Debian's CNI plugins, and a
# locally built pause image as the sandbox image. dockerd runs on that containerd; it keeps its
# images in its own store, so images reach the node by `ctr import` (scripts/images.sh).
#
# State: config and logs in ${NATIVEJOBS_RUNTIME_DIR:-/var/lib/nativejobs/runtime}; images and
# containers in the daemons' default roots (/var/lib/containerd, /var/lib/docker), which
# outlive `down`, so a second run builds and imports nothing.
set -euo pipefail

RUNTIME_DIR="${NATIVEJOBS_RUNTIME_DIR:-/var/lib/nativejobs/runtime}"
CONTAINERD_SOCK=/run/containerd/containerd.sock
DOCKER_SOCK=/var/run/docker.sock
CNI_CONF_DIR=/etc/cni/net.d
# The sandbox image containerd names; scripts/images.sh builds it (images/pause/pause.c).
PAUSE_IMAGE="nativejobs.local/pause:3.10"
PACKAGES=(docker.io containerd runc containernetworking-plugins debootstrap iptables)

die() { echo "runtime.sh: error: $*" >&2; exit 1; }
log() { echo "runtime.sh: $*" >&2; }

need_root() { [[ "$(id -u)" == 0 ]] || die "needs root (it installs packages and starts daemons); run it with sudo"; }

install_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "${p}" 2>/dev/null | grep -q "install ok installed" || missing+=("${p}")
  done
  ((${#missing[@]})) || return 0
  log "installing ${missing[*]} from Debian (about a minute)"
  # One installer at a time (parallel test sessions share dpkg's lock anyway).
  exec 7>/var/lib/nativejobs/.apt.lock; flock 7
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 \
    || die "apt-get install ${missing[*]} failed (see above)"
  flock -u 7
}

write_containerd_config() {
  cat >"${RUNTIME_DIR}/containerd.toml" <<EOF
version = 2
[grpc]
  address = "${CONTAINERD_SOCK}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${CNI_CONF_DIR}"
EOF
}

pid_alive() { [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null; }
pid_of() { cat "${RUNTIME_DIR}/$1.pid" 2>/dev/null || true; }

wait_for() {  # wait_for NAME SECONDS CMD...
  local name="$1" deadline=$(( $(date +%s) + $2 )); shift 2
  until "$@" >/dev/null 2>&1; do
    if (( $(date +%s) >= deadline )); then
      tail -n 30 "${RUNTIME_DIR}/${name}.log" >&2 || true
      die "${name} did not answer within the timeout (log: ${RUNTIME_DIR}/${name}.log)"
    fi
    sleep 0.5
  done
}

containerd_up() { ctr --address "${CONTAINERD_SOCK}" --timeout 3s version >/dev/null 2>&1; }
docker_up() { docker -H "unix://${DOCKER_SOCK}" version >/dev/null 2>&1; }

start_daemon() {  # start_daemon NAME ARGV...: detached, outliving this script
  local name="$1"; shift
  setsid "$@" </dev/null >>"${RUNTIME_DIR}/${name}.log" 2>&1 &
  echo $! >"${RUNTIME_DIR}/${name}.pid"
}

up() {
  need_root
  mkdir -p "${RUNTIME_DIR}" "${CNI_CONF_DIR}" /var/lib/nativejobs
  install_packages
  write_containerd_config
  if ! containerd_up; then
    log "starting containerd"
    start_daemon containerd containerd --config "${RUNTIME_DIR}/containerd.toml"
    wait_for containerd 60 containerd_up
  elif ! cmp -s "${RUNTIME_DIR}/containerd.toml" "${RUNTIME_DIR}/containerd.toml.running" 2>/dev/null; then
    log "warning: a containerd not started with ${RUNTIME_DIR}/containerd.toml runs; restart it with" \
        "'$0 down && $0 up' if the node cannot start pods"
  fi
  cp "${RUNTIME_DIR}/containerd.toml" "${RUNTIME_DIR}/containerd.toml.running"
  if ! docker_up; then
    log "starting dockerd"
    # iptables off: the node's CNI bridge, not Docker's, carries pod traffic; builds use the
    # host network (images/build.sh), so dockerd needs no NAT of its own.
    start_daemon dockerd dockerd --containerd="${CONTAINERD_SOCK}" -H "unix://${DOCKER_SOCK}" \
      --iptables=false --bridge=none --data-root /var/lib/docker
    wait_for dockerd 60 docker_up
  fi
  log "up: containerd $(containerd --version | awk '{print $3}'), docker engine" \
      "$(docker version -f '{{.Server.Version}}' 2>/dev/null)"
}

stop_pidfile() {  # stop_pidfile NAME
  local pid
  pid="$(pid_of "$1")"
  if pid_alive "${pid}"; then
    kill "${pid}" 2>/dev/null || true
    for _ in $(seq 1 100); do pid_alive "${pid}" || break; sleep 0.1; done
    pid_alive "${pid}" && kill -9 "${pid}" 2>/dev/null || true
  fi
  rm -f "${RUNTIME_DIR}/$1.pid"
}

down() {
  need_root
  stop_pidfile dockerd
  stop_pidfile containerd
  rm -f "${RUNTIME_DIR}/containerd.toml.running"
  log "stopped dockerd and containerd (images kept in /var/lib/containerd and /var/lib/docker)"
}

status() {
  local ok=0
  if containerd_up; then echo "containerd  running (${CONTAINERD_SOCK})"
  else echo "containerd  NOT running"; ok=1; fi
  if docker_up; then echo "dockerd     running (${DOCKER_SOCK})"
  else echo "dockerd     NOT running"; ok=1; fi
  return "${ok}"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 {up|status|down}" >&2; exit 2 ;;
esac
