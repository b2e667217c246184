#!/usr/bin/env bash
# A Python base image made without any registry: images/base.sh   (prints the image tag)
#
# debootstrap (minbase) of Debian bookworm with python3, python3-venv and ca-certificates,
# from the Debian mirror this machine's apt uses, plus this machine's extra CA certificates
# (/usr/local/share/ca-certificates) and pip settings (/etc/pip.conf), so that pip inside a
# build trusts what the host trusts. The root filesystem is cached as a tarball under
# ${NATIVEJOBS_CACHE:-~/.cache/nativejobs}/images/, keyed by what goes into it, and imported
# with `docker import` as nativejobs-base:bookworm-<key>: the first run takes minutes, later
# ones seconds (or nothing, when the engine already has the tag). Needs root and debootstrap
# (scripts/runtime.sh up installs both the engine and debootstrap).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DOCKER="${DOCKER:-docker}"
SUITE=bookworm
PACKAGES="python3,python3-venv,ca-certificates"
CACHE_DIR="${NATIVEJOBS_CACHE:-${HOME}/.cache/nativejobs}/images"

die() { echo "base.sh: error: $*" >&2; exit 1; }
log() { echo "base.sh: $*" >&2; }

[[ "$(id -u)" == 0 ]] || die "needs root (debootstrap); run it with sudo"
command -v debootstrap >/dev/null || die "no debootstrap; install it (apt-get install debootstrap) or run scripts/runtime.sh up"

mirror() {  # the first Debian mirror of this machine's apt sources (deb822 or one-line format)
  local url
  url="$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null \
         | grep -v -- '-security' | head -n 1 || true)"
  [[ -n "${url}" ]] || url="$(awk '$1 == "deb" && $3 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)"
  [[ -n "${url}" ]] || die "found no Debian mirror in /etc/apt/sources.list{,.d}; set DEBIAN_MIRROR"
  echo "${url}"
}

MIRROR="${DEBIAN_MIRROR:-$(mirror)}"
# The key covers what goes into the rootfs: suite, packages, the host's CAs and pip settings.
KEY="$( { echo "${SUITE} ${PACKAGES} ${MIRROR}"; cat /usr/local/share/ca-certificates/*.crt /etc/pip.conf 2>/dev/null || true; } \
        | sha256sum | cut -c1-12)"
TAG="nativejobs-base:${SUITE}-${KEY}"
TARBALL="${CACHE_DIR}/base-${SUITE}-${KEY}.tar"

if "${DOCKER}" image inspect "${TAG}" >/dev/null 2>&1; then echo "${TAG}"; exit 0; fi
mkdir -p "${CACHE_DIR}"
exec 8>"${CACHE_DIR}/.base.lock"; flock 8

if [[ ! -s "${TARBALL}" ]]; then
  t0=$(date +%s)
  rootfs="$(mktemp -d "${CACHE_DIR}/.rootfs.XXXXXX")"
  trap 'rm -rf "${rootfs}"' EXIT
  log "debootstrap ${SUITE} (minbase + ${PACKAGES}) from ${MIRROR} (first time: minutes)"
  debootstrap --variant=minbase --include="${PACKAGES}" "${SUITE}" "${rootfs}" "${MIRROR}" >&2 \
    || die "debootstrap failed (see above)"
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "${rootfs}/usr/local/share/ca-certificates/"
    chroot "${rootfs}" update-ca-certificates >&2
  fi
  [[ -f /etc/pip.conf ]] && cp /etc/pip.conf "${rootfs}/etc/pip.conf"
  rm -rf "${rootfs}"/var/cache/apt/archives/*.deb "${rootfs}"/var/lib/apt/lists/*
  tar -C "${rootfs}" --numeric-owner -cf "${TARBALL}.part" .
  mv "${TARBALL}.part" "${TARBALL}"
  rm -rf "${rootfs}"; trap - EXIT
  log "made the base rootfs in $(( $(date +%s) - t0 )) s: ${TARBALL}"
fi
"${DOCKER}" import --change 'CMD ["/bin/bash"]' "${TARBALL}" "${TAG}" >/dev/null
flock -u 8
log "imported ${TAG}"
echo "${TAG}"
