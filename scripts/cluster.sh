#!/usr/bin/env bash
# A real local Kubernetes control plane for tests and local runs, built from Go modules.
#
#   scripts/cluster.sh build     ensure every binary is built and cached; print the bin dir
#   eval "$(scripts/cluster.sh up)"
#                                start etcd, kube-apiserver, kube-controller-manager,
#                                kube-scheduler and kwok; print `export KUBECONFIG=...`
#   scripts/cluster.sh status    say what runs and whether the API answers (exit 1 if not up)
#   scripts/cluster.sh down      stop everything and remove the state dir
#   scripts/cluster.sh env       print the export lines of a running cluster again
#   scripts/cluster.sh bin       print the bin dir if everything is built (else exit 1)
#
# Binaries (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd, kwok, helm)
# are cached per pinned version set under
#   ${NATIVEJOBS_CACHE:-~/.cache/nativejobs}/k8s/<version>/bin/
# outside the repo; go's own build and module caches stay in their defaults. The first build
# takes a long while on a small machine (the Kubernetes binaries dominate); later ones are instant.
#
# State (certs, kubeconfig, etcd data, logs, pids) lives in ${NATIVEJOBS_CLUSTER_DIR:-
# ${NATIVEJOBS_CACHE}/cluster}; every server listens on 127.0.0.1 only, on free ports.
#
# What runs:
#   - etcd (one member, loopback)
#   - kube-apiserver: secure port with a generated CA, serving cert and admin client cert,
#     --authorization-mode=Node,RBAC, the default admission plugins, service-account tokens
#   - kube-controller-manager: all default controllers (Job, garbage collector,
#     TTL-after-finished, service-account token, namespace, ...)
#   - kube-scheduler
#   - kwok (the controller binary, no Docker): fake nodes from k8s/local/kwok-nodes.yaml
#     advertising nvidia.com/gpu: 8, and Stages from k8s/local/kwok-stages.yaml that run pods.
#
# How simulated pods behave: see the header of k8s/local/kwok-stages.yaml. In short, on a pod
# (in a Job: spec.template.metadata.annotations; or patched onto one running pod):
#   nativejobs.io/sim-duration: "2s"   run this long, then Succeed with exit code 0 (default 1s)
#   nativejobs.io/sim-exit-code: "3"   instead Fail, every container terminated with exit code 3
#   nativejobs.io/sim-evict: "true"    kubelet-style eviction: DisruptionTarget=True
#                                      (TerminationByKubelet), phase Failed, reason Evicted
# Real evictions also work: the Eviction API and scheduler preemption delete the pod, and kwok
# makes it Failed (exit 143) first, keeping the DisruptionTarget condition the apiserver added.
# The nodes (k8s/local/kwok-nodes.yaml: kwok-gpu-0, kwok-gpu-1) carry nvidia.com/gpu: 8 and
# the labels nvidia.com/gpu.present=true, nativejobs.io/kwok-node=true; they have no taints.
# No kubelet runs: `kubectl logs`/`exec` do not work on these pods.
set -euo pipefail

# --- pinned versions --------------------------------------------------------------------------
# Newest patch releases that the Go module proxy serves and that build with Go 1.26.
K8S_VERSION="v1.37.2"     # k8s.io/kubernetes; its staging modules are v0.37.2
ETCD_VERSION="v3.6.16"    # go.etcd.io/etcd/server/v3 (Kubernetes 1.37 runs on etcd 3.6)
KWOK_VERSION="v0.8.0"     # sigs.k8s.io/kwok
HELM_VERSION="v3.22.0"    # helm.sh/helm/v3
# One cache key for the set: change any pin and a fresh bin dir is built (go's build cache
# keeps the unchanged binaries quick to redo).
STACK_VERSION="${K8S_VERSION}-etcd${ETCD_VERSION#v}-kwok${KWOK_VERSION#v}-helm${HELM_VERSION#v}"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL_CONF="${REPO_ROOT}/k8s/local"
CACHE_ROOT="${NATIVEJOBS_CACHE:-${HOME}/.cache/nativejobs}"
VERSION_DIR="${CACHE_ROOT}/k8s/${STACK_VERSION}"
BIN_DIR="${VERSION_DIR}/bin"
STATE_DIR="${NATIVEJOBS_CLUSTER_DIR:-${CACHE_ROOT}/cluster}"
BINARIES=(etcd kwok kube-apiserver kube-controller-manager kube-scheduler kubectl helm kubelet)

die() { echo "cluster.sh: error: $*" >&2; exit 1; }
log() { echo "cluster.sh: $*" >&2; }

find_go() {
  if command -v go >/dev/null 2>&1; then command -v go
  elif [[ -x /usr/local/go/bin/go ]]; then echo /usr/local/go/bin/go
  else die "no 'go' on PATH or at /usr/local/go/bin/go; install Go >= 1.26 to build the cluster"
  fi
}

# --- build ------------------------------------------------------------------------------------

# go_in DIR ARGS...: run go in a wrapper module, never touching another toolchain or workspace,
# at the lowest CPU priority so a build never starves tests that share the machine
# (NATIVEJOBS_BUILD_NICE overrides: CI builds before any test runs). go runs as
# a waited-for child so that `build`'s TERM/INT trap can stop it; it does not inherit the build
# lock (fd 8), so a killed build never keeps the lock held by an orphaned compiler.
go_in() {
  local dir="$1"; shift
  (cd "${dir}" && GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=mod ${GOFLAGS:-}" \
     exec nice -n "${NATIVEJOBS_BUILD_NICE:-19}" "${GO}" "$@") 8>&- &
  GO_CHILD=$!
  wait "${GO_CHILD}"
}

# new_wrapper NAME: a fresh wrapper module dir under the stage; prints its path.
new_wrapper() {
  local dir="${STAGE}/src/$1"
  mkdir -p "${dir}"
  printf 'module nativejobs.local/tools/%s\n\ngo 1.26.0\n' "$1" >"${dir}/go.mod"
  echo "${dir}"
}

# timed NAME CMD...: run CMD, log how long it took (also to VERSION_DIR/build-times.txt).
timed() {
  local name="$1" t0 t1; shift
  t0=$(date +%s)
  "$@" || return 1
  t1=$(date +%s)
  log "built ${name} in $((t1 - t0)) s"
  echo "${name} $((t1 - t0))s $(date -u +%FT%TZ)" >>"${VERSION_DIR}/build-times.txt"
}

install_bin() {  # install_bin NAME: move STAGE/NAME into BIN_DIR atomically (same filesystem)
  chmod 0755 "${STAGE}/$1"
  mv -f "${STAGE}/$1" "${BIN_DIR}/$1"
}

k8s_wrapper() {  # the module that builds Kubernetes' commands; its replaces pin staging modules
  [[ -n "${K8S_SRC:-}" ]] && return
  local dir mod staging_ver
  dir="$(new_wrapper kubernetes)"
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with
  # ./staging/...; a dependent module must replace them with the published v0.X.Y instead.
  staging_ver="v0.${K8S_VERSION#v1.}"
  go_in "${dir}" mod download -json "k8s.io/kubernetes@${K8S_VERSION}" >"${dir}/download.json" || return 1
  mod="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["GoMod"])' "${dir}/download.json")"
  {
    echo
    echo "require k8s.io/kubernetes ${K8S_VERSION}"
    echo
    echo "replace ("
    sed -n 's#^[[:space:]]*\(k8s\.io/[^ ]*\) => \./staging/src/.*#\t\1 => \1 '"${staging_ver}"'#p' "${mod}"
    echo ")"
  } >>"${dir}/go.mod"
  grep -q 'k8s.io/api => k8s.io/api' "${dir}/go.mod" \
    || die "found no staging replace lines in ${mod}; k8s.io/kubernetes ${K8S_VERSION} changed its layout"
  go_in "${dir}" get "k8s.io/kubernetes/cmd/kube-apiserver@${K8S_VERSION}" >&2 || return 1
  K8S_SRC="${dir}"
}

build_k8s() {  # build_k8s NAME: k8s.io/kubernetes/cmd/NAME
  k8s_wrapper || return 1
  local minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  local ld="-s -w" pkg
  # What `kubectl version` and the API's /version report (Kubernetes' own build sets the same).
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X ${pkg}.gitVersion=${K8S_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor}"
    ld+=" -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=1970-01-01T00:00:00Z"
  done
  go_in "${K8S_SRC}" build -trimpath -ldflags "${ld}" -o "${STAGE}/$1" "k8s.io/kubernetes/cmd/$1" >&2 || return 1
}

build_etcd() {
  local dir
  dir="$(new_wrapper etcd)"
  # server/v3 is etcd's main package; its go.mod's replaces (../api ...) do not apply to us,
  # the published modules of the same version do.
  go_in "${dir}" get "go.etcd.io/etcd/server/v3@${ETCD_VERSION}" >&2 || return 1
  go_in "${dir}" build -trimpath -ldflags "-s -w" -o "${STAGE}/etcd" go.etcd.io/etcd/server/v3 >&2 || return 1
}

build_kwok() {
  local dir
  dir="$(new_wrapper kwok)"
  go_in "${dir}" get "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}" >&2 || return 1
  go_in "${dir}" build -trimpath \
    -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}" \
    -o "${STAGE}/kwok" sigs.k8s.io/kwok/cmd/kwok >&2 || return 1
}

build_helm() {
  local dir cg major minor ld
  dir="$(new_wrapper helm)"
  go_in "${dir}" get "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}" >&2 || return 1
  # As helm's Makefile does: the default Kubernetes version that `helm template`/`lint` assume
  # is one minor past the client-go it was built with (else it is a stale 1.20).
  cg="$(go_in "${dir}" list -m -f '{{.Version}}' k8s.io/client-go)" || return 1  # v0.MINOR.PATCH
  major=$(( $(echo "${cg#v}" | cut -d. -f1) + 1 ))
  minor="$(echo "${cg#v}" | cut -d. -f2)"
  ld="-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}"
  ld+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  ld+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=${major}"
  ld+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=${minor}"
  ld+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=${major}"
  ld+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=${minor}"
  go_in "${dir}" build -trimpath -ldflags "${ld}" -o "${STAGE}/helm" helm.sh/helm/v3/cmd/helm >&2 || return 1
}

build() {
  local name missing=()
  for name in "${BINARIES[@]}"; do [[ -x "${BIN_DIR}/${name}" ]] || missing+=("${name}"); done
  if ((${#missing[@]} == 0)); then echo "${BIN_DIR}"; return; fi
  GO="$(find_go)"
  mkdir -p "${BIN_DIR}"
  # One builder at a time (parallel test sessions); the rest wait, then reuse its binaries.
  exec 8>"${VERSION_DIR}/.build.lock"
  flock 8
  # Whoever held the lock may have built everything meanwhile.
  missing=()
  for name in "${BINARIES[@]}"; do [[ -x "${BIN_DIR}/${name}" ]] || missing+=("${name}"); done
  if ((${#missing[@]} == 0)); then flock -u 8; echo "${BIN_DIR}"; return; fi
  # Stage dirs left by a killed build (we hold the lock, so nobody is using them).
  rm -rf "${VERSION_DIR}"/.stage.*
  # Each binary is built into a private stage dir and moved in whole: an interrupted build
  # leaves only complete binaries in BIN_DIR, and the next build makes the rest.
  STAGE="$(mktemp -d "${VERSION_DIR}/.stage.XXXXXX")"
  trap 'rm -rf "${STAGE}"' EXIT
  trap 'log "interrupted; stopping go"; [[ -n "${GO_CHILD:-}" ]] && kill "${GO_CHILD}" 2>/dev/null; exit 143' TERM INT
  log "building ${missing[*]} (${STACK_VERSION}) with $("${GO}" version) into ${BIN_DIR}"
  for name in "${BINARIES[@]}"; do
    [[ -x "${BIN_DIR}/${name}" ]] && continue
    log "building ${name} (first time: minutes; Kubernetes' binaries take long on 2 cores)"
    # Up to 3 tries: a module download can time out on a busy machine (TLS handshake timeout).
    for try in 1 2 3; do
      case "${name}" in
        etcd) timed etcd build_etcd ;;
        kwok) timed kwok build_kwok ;;
        helm) timed helm build_helm ;;
        *) timed "${name}" build_k8s "${name}" ;;
      esac && break
      ((try < 3)) || die "building ${name} failed 3 times (see above); it needs Go >= 1.26 and the" \
                         "Go module proxy ($("${GO}" env GOPROXY))"
      log "building ${name} failed (try ${try} of 3); trying again in $((try * 10)) s"
      sleep $((try * 10))
    done
    install_bin "${name}"
  done
  # Keep the wrapper modules' go.mod/go.sum beside the binaries: they say what was built.
  for name in "${STAGE}"/src/*; do
    [[ -f "${name}/go.sum" ]] || continue
    mkdir -p "${VERSION_DIR}/src/$(basename "${name}")"
    cp "${name}/go.mod" "${name}/go.sum" "${VERSION_DIR}/src/$(basename "${name}")/"
  done
  rm -rf "${STAGE}"
  trap - EXIT TERM INT
  flock -u 8
  echo "${BIN_DIR}"
}

# --- up / down / status ------------------------------------------------------------------------

MARKER=".nativejobs-cluster"   # only a dir holding this file is ever removed by `down`
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
START_TIMEOUT_S="${NATIVEJOBS_CLUSTER_START_TIMEOUT:-240}"

alive() {  # alive PID: running and not a zombie (kill -0 succeeds on zombies too)
  local st
  st="$(ps -o stat= -p "$1" 2>/dev/null)" || return 1
  [[ "${st}" != Z* ]]
}

pid_of() { cat "${STATE_DIR}/run/$1.pid" 2>/dev/null || true; }

component_alive() { local pid; pid="$(pid_of "$1")"; [[ -n "${pid}" ]] && alive "${pid}"; }

free_ports() {  # free_ports N: N distinct free loopback ports, one a line
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print("\n".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
PY
}

# --- certificates: one CA signs the apiserver's serving cert and every client cert ----------
# EC P-256 keys (fast to make). Leaf certs carry SKI/AKI so strict verifiers (Python 3.13's
# VERIFY_X509_STRICT) accept them.
gen_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

sign_cert() {  # sign_cert NAME SUBJECT EXTENSIONS...: pki/NAME.{key,crt} signed by pki/ca
  local name="$1" subj="$2" pki="${STATE_DIR}/pki"; shift 2
  gen_key "${pki}/${name}.key"
  openssl req -new -key "${pki}/${name}.key" -subj "${subj}" -out "${pki}/${name}.csr" 2>/dev/null
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature"
    echo "subjectKeyIdentifier=hash"
    echo "authorityKeyIdentifier=keyid,issuer"
    printf '%s\n' "$@"
  } >"${pki}/${name}.ext"
  openssl x509 -req -in "${pki}/${name}.csr" -CA "${pki}/ca.crt" -CAkey "${pki}/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days 3650 -sha256 -extfile "${pki}/${name}.ext" \
    -out "${pki}/${name}.crt" 2>/dev/null
  rm -f "${pki}/${name}.csr" "${pki}/${name}.ext"
}

gen_pki() {
  local pki="${STATE_DIR}/pki"
  mkdir -p "${pki}"
  gen_key "${pki}/ca.key"
  openssl req -x509 -new -key "${pki}/ca.key" -subj "/CN=nativejobs-local-ca" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -addext "subjectKeyIdentifier=hash" -out "${pki}/ca.crt" 2>/dev/null
  sign_cert apiserver "/CN=kube-apiserver" "extendedKeyUsage=serverAuth" \
    "subjectAltName=IP:127.0.0.1,IP:${SERVICE_IP},DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  # system:masters: the cluster-admin of the bootstrap RBAC policy.
  sign_cert admin "/O=system:masters/CN=nativejobs-admin" "extendedKeyUsage=clientAuth"
  # The identities the bootstrap RBAC policy grants to the control-plane components.
  sign_cert controller-manager "/CN=system:kube-controller-manager" "extendedKeyUsage=clientAuth"
  sign_cert scheduler "/CN=system:kube-scheduler" "extendedKeyUsage=clientAuth"
  # The aggregation layer's client (request-header authentication); also quiets the
  # controller-manager and scheduler, which look for this CA.
  sign_cert front-proxy-client "/CN=front-proxy-client" "extendedKeyUsage=clientAuth"
  # kwok writes node and pod status, deletes pods and renews leases for the fake nodes.
  sign_cert kwok "/O=system:masters/CN=kwok-controller" "extendedKeyUsage=clientAuth"
  # Service-account tokens: the apiserver signs them, it and the controller-manager verify.
  gen_key "${pki}/sa.key"
  openssl pkey -in "${pki}/sa.key" -pubout -out "${pki}/sa.pub" 2>/dev/null
  chmod 0600 "${pki}"/*.key
}

write_kubeconfig() {  # write_kubeconfig FILE CERTNAME USER
  local pki="${STATE_DIR}/pki"
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: nativejobs-local
  cluster:
    server: ${API_URL}
    certificate-authority-data: $(base64 -w0 "${pki}/ca.crt")
users:
- name: $3
  user:
    client-certificate-data: $(base64 -w0 "${pki}/$2.crt")
    client-key-data: $(base64 -w0 "${pki}/$2.key")
contexts:
- name: nativejobs-local
  context:
    cluster: nativejobs-local
    user: $3
    namespace: default
current-context: nativejobs-local
EOF
  chmod 0600 "$1"
}

start_component() {  # start_component NAME ARGV...: run detached, log and pid under the state dir
  local name="$1"; shift
  # setsid: the servers outlive this script (and a test runner's Ctrl-C); `down` stops them.
  setsid "$@" </dev/null >"${STATE_DIR}/logs/${name}.log" 2>&1 &
  echo $! >"${STATE_DIR}/run/${name}.pid"
}

fail_start() {  # fail_start NAME WHY: show the log tail, stop what was started, exit
  local log_file="${STATE_DIR}/logs/$1.log"
  [[ -f "${log_file}" ]] && tail -n 30 "${log_file}" >&2
  log "stopping what was started; state kept for inspection in ${STATE_DIR}"
  stop_components
  die "$1: $2 (log: ${log_file})"
}

wait_until() {  # wait_until NAME TIMEOUT_S CMD...: poll CMD (every 0.5 s) while NAME lives
  local name="$1" timeout="$2" deadline; shift 2
  deadline=$(( $(date +%s) + timeout ))
  while ! "$@" >/dev/null 2>&1; do
    component_alive "${name}" || fail_start "${name}" "exited during startup"
    (( $(date +%s) < deadline )) || fail_start "${name}" "not ready within ${timeout} s"
    sleep 0.5
  done
}

api_get() {  # api_get PATH: GET on the apiserver as admin
  curl -fsS --max-time 5 --cacert "${STATE_DIR}/pki/ca.crt" --cert "${STATE_DIR}/pki/admin.crt" \
    --key "${STATE_DIR}/pki/admin.key" "${API_URL}$1"
}

healthz() { curl -fsSk --max-time 5 "https://127.0.0.1:$1/healthz"; }

kctl() { "${BIN_DIR}/kubectl" --kubeconfig "${STATE_DIR}/kubeconfig" "$@"; }

env_lines() {
  cat <<EOF
export KUBECONFIG=${STATE_DIR}/kubeconfig
export NATIVEJOBS_CLUSTER_DIR=${STATE_DIR}
export NATIVEJOBS_K8S_BIN=${BIN_DIR}
EOF
}

load_ports() {
  [[ -f "${STATE_DIR}/ports.env" ]] || return 1
  # shellcheck disable=SC1091
  source "${STATE_DIR}/ports.env"
  API_URL="https://127.0.0.1:${API_PORT}"
}

all_alive() { local c; for c in "${COMPONENTS[@]}"; do component_alive "${c}" || return 1; done; }

up() {
  build >/dev/null
  if [[ -f "${STATE_DIR}/${MARKER}" ]]; then
    if load_ports && all_alive && api_get /readyz >/dev/null 2>&1; then
      log "already up (state ${STATE_DIR})"
      env_lines
      return
    fi
    log "cleaning a stale cluster in ${STATE_DIR}"
    down >/dev/null
  elif [[ -e "${STATE_DIR}" && -n "$(ls -A "${STATE_DIR}" 2>/dev/null)" ]]; then
    die "${STATE_DIR} exists and is not a cluster state dir; set NATIVEJOBS_CLUSTER_DIR elsewhere"
  fi
  mkdir -p "${STATE_DIR}"/{run,logs,etcd,cm-certs,sched-certs,kwok-home}
  touch "${STATE_DIR}/${MARKER}"
  local t0 ports
  t0=$(date +%s)
  mapfile -t ports < <(free_ports 6)
  ETCD_PORT=${ports[0]}; ETCD_PEER_PORT=${ports[1]}; API_PORT=${ports[2]}
  CM_PORT=${ports[3]}; SCHED_PORT=${ports[4]}; KWOK_PORT=${ports[5]}
  SERVICE_CIDR="10.96.0.0/16"; SERVICE_IP="10.96.0.1"
  printf 'ETCD_PORT=%s\nETCD_PEER_PORT=%s\nAPI_PORT=%s\nCM_PORT=%s\nSCHED_PORT=%s\nKWOK_PORT=%s\n' \
    "${ETCD_PORT}" "${ETCD_PEER_PORT}" "${API_PORT}" "${CM_PORT}" "${SCHED_PORT}" "${KWOK_PORT}" \
    >"${STATE_DIR}/ports.env"
  API_URL="https://127.0.0.1:${API_PORT}"
  gen_pki
  local pki="${STATE_DIR}/pki"
  write_kubeconfig "${STATE_DIR}/kubeconfig" admin nativejobs-admin
  write_kubeconfig "${STATE_DIR}/controller-manager.kubeconfig" controller-manager system:kube-controller-manager
  write_kubeconfig "${STATE_DIR}/scheduler.kubeconfig" scheduler system:kube-scheduler
  write_kubeconfig "${STATE_DIR}/kwok.kubeconfig" kwok kwok-controller

  # etcd: a throwaway single member; no fsync (test data, and a busy shared disk).
  start_component etcd "${BIN_DIR}/etcd" --name nativejobs --data-dir "${STATE_DIR}/etcd" \
    --listen-client-urls "http://127.0.0.1:${ETCD_PORT}" \
    --advertise-client-urls "http://127.0.0.1:${ETCD_PORT}" \
    --listen-peer-urls "http://127.0.0.1:${ETCD_PEER_PORT}" \
    --initial-advertise-peer-urls "http://127.0.0.1:${ETCD_PEER_PORT}" \
    --initial-cluster "nativejobs=http://127.0.0.1:${ETCD_PEER_PORT}" \
    --unsafe-no-fsync --log-level warn
  wait_until etcd 60 curl -fsS --max-time 2 "http://127.0.0.1:${ETCD_PORT}/health"

  # kube-apiserver: RBAC + Node authorization; the default admission plugins plus
  # NodeRestriction. --endpoint-reconciler-type=none: a loopback address may not be an
  # endpoint of the `kubernetes` Service, and nothing in this cluster dials it.
  start_component kube-apiserver "${BIN_DIR}/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:${ETCD_PORT}" \
    --bind-address 127.0.0.1 --secure-port "${API_PORT}" --advertise-address 127.0.0.1 \
    --tls-cert-file "${pki}/apiserver.crt" --tls-private-key-file "${pki}/apiserver.key" \
    --client-ca-file "${pki}/ca.crt" \
    --requestheader-client-ca-file "${pki}/ca.crt" --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- \
    --proxy-client-cert-file "${pki}/front-proxy-client.crt" \
    --proxy-client-key-file "${pki}/front-proxy-client.key" \
    --authorization-mode Node,RBAC \
    --enable-admission-plugins NodeRestriction \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "${pki}/sa.pub" \
    --service-account-signing-key-file "${pki}/sa.key" \
    --service-cluster-ip-range "${SERVICE_CIDR}" \
    --endpoint-reconciler-type none \
    --allow-privileged=true --profiling=false --v=1
  wait_until kube-apiserver "${START_TIMEOUT_S}" api_get /readyz

  # Client rate limits and Job workers raised from the defaults (QPS 20, burst 30 per controller;
  # 5 Job syncs): a Job costs the Job controller several requests (its pod, status updates, the
  # pod's finalizer), so the defaults cap a big plan's start rate (bench/scale.py, bench/RESULTS.md).
  start_component kube-controller-manager "${BIN_DIR}/kube-controller-manager" \
    --kubeconfig "${STATE_DIR}/controller-manager.kubeconfig" \
    --authentication-kubeconfig "${STATE_DIR}/controller-manager.kubeconfig" \
    --authorization-kubeconfig "${STATE_DIR}/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "${CM_PORT}" --cert-dir "${STATE_DIR}/cm-certs" \
    --leader-elect=false --use-service-account-credentials=true \
    --controllers '*' \
    --service-account-private-key-file "${pki}/sa.key" --root-ca-file "${pki}/ca.crt" \
    --cluster-signing-cert-file "${pki}/ca.crt" --cluster-signing-key-file "${pki}/ca.key" \
    --kube-api-qps 1000 --kube-api-burst 2000 --concurrent-job-syncs 20 \
    --profiling=false --v=1
  start_component kube-scheduler "${BIN_DIR}/kube-scheduler" \
    --kubeconfig "${STATE_DIR}/scheduler.kubeconfig" \
    --authentication-kubeconfig "${STATE_DIR}/scheduler.kubeconfig" \
    --authorization-kubeconfig "${STATE_DIR}/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "${SCHED_PORT}" --cert-dir "${STATE_DIR}/sched-certs" \
    --leader-elect=false --profiling=false --v=1
  # kwok: the controller binary alone (no Docker). HOME points away from ~/.kwok so that only
  # our Stages load. The node and pod IPs it reports are fake and never dialled.
  HOME="${STATE_DIR}/kwok-home" start_component kwok "${BIN_DIR}/kwok" \
    --kubeconfig "${STATE_DIR}/kwok.kubeconfig" \
    --config "${LOCAL_CONF}/kwok-stages.yaml" \
    --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --node-ip 10.240.0.1 --cidr 10.244.0.0/16 \
    --node-lease-duration-seconds 40 \
    --server-address "127.0.0.1:${KWOK_PORT}"
  wait_until kube-controller-manager 120 healthz "${CM_PORT}"
  wait_until kube-scheduler 120 healthz "${SCHED_PORT}"
  wait_until kwok 60 curl -fsS --max-time 2 "http://127.0.0.1:${KWOK_PORT}/healthz"

  kctl apply -f "${LOCAL_CONF}/kwok-nodes.yaml" >&2 || fail_start kwok "could not create the nodes"
  wait_until kwok 120 kctl wait --for=condition=Ready node -l nativejobs.io/kwok-node=true --timeout=5s
  # Pods need their namespace's `default` ServiceAccount (made by the controller-manager).
  wait_until kube-controller-manager 120 kctl get serviceaccount default -n default
  log "up in $(( $(date +%s) - t0 )) s: Kubernetes ${K8S_VERSION} at ${API_URL}, state ${STATE_DIR}"
  env_lines
}

stop_components() {  # stop every component that runs, newest first
  local i name pid
  for (( i=${#COMPONENTS[@]}-1; i>=0; i-- )); do
    name="${COMPONENTS[i]}"
    pid="$(pid_of "${name}")"
    [[ -n "${pid}" ]] || continue
    if alive "${pid}"; then
      kill "${pid}" 2>/dev/null || true
      for _ in $(seq 1 100); do alive "${pid}" || break; sleep 0.1; done
      if alive "${pid}"; then kill -9 "${pid}" 2>/dev/null || true; fi
    fi
    rm -f "${STATE_DIR}/run/${name}.pid"
  done
}

down() {
  if [[ ! -f "${STATE_DIR}/${MARKER}" ]]; then
    log "no cluster state in ${STATE_DIR}; nothing to stop"
    return
  fi
  stop_components
  rm -rf "${STATE_DIR}"
  log "stopped the cluster and removed ${STATE_DIR}"
}

status() {
  local name ok=0 pid
  if [[ ! -f "${STATE_DIR}/${MARKER}" ]] || ! load_ports; then
    echo "down (no cluster state in ${STATE_DIR})"
    return 1
  fi
  for name in "${COMPONENTS[@]}"; do
    pid="$(pid_of "${name}")"
    if component_alive "${name}"; then
      printf '%-24s running (pid %s)\n' "${name}" "${pid}"
    else
      printf '%-24s NOT running (log %s)\n' "${name}" "${STATE_DIR}/logs/${name}.log"; ok=1
    fi
  done
  if api_get /readyz >/dev/null 2>&1; then
    printf '%-24s %s ready at %s\n' "api" "$(api_get /version | python3 -c 'import json,sys; print(json.load(sys.stdin)["gitVersion"])')" "${API_URL}"
    kctl get nodes -o wide 2>/dev/null || true
  else
    printf '%-24s not answering at %s\n' "api" "${API_URL}"; ok=1
  fi
  echo "KUBECONFIG=${STATE_DIR}/kubeconfig"
  return "${ok}"
}

# Run as a command (sourcing it only defines the functions, for debugging).
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  case "${1:-}" in
    build) build ;;
    bin) for b in "${BINARIES[@]}"; do [[ -x "${BIN_DIR}/${b}" ]] || die "${b} is not built; run: $0 build"; done
         echo "${BIN_DIR}" ;;
    up) up ;;
    down) down ;;
    status) status ;;
    env) { load_ports && [[ -f "${STATE_DIR}/kubeconfig" ]]; } || die "no cluster in ${STATE_DIR}"
         env_lines ;;
    *) echo "usage: $0 {build|bin|up|down|status|env}" >&2; exit 2 ;;
  esac
fi
