#!/bin/bash
# Downloads the Xen hypervisor and the Debian kernel packages with
# `apt-get download` and extracts them with `dpkg-deb -x` into
# BUILD_DIR/pkgroot (their maintainer scripts never run on this machine).
# Produces BUILD_DIR/pkgroot/boot/xen (decompressed: QEMU's multiboot loader
# needs the ELF) and records the kernel version in BUILD_DIR/pkgroot/.kver.
#
#   fetch-boot.sh [BUILD_DIR]
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BUILD_DIR=$(realpath -m "${1:-$E2E_REPO_DIR/build-e2e}")
DEBS=$BUILD_DIR/debs
PKGROOT=$BUILD_DIR/pkgroot
mkdir -p "$DEBS"

kernel_pkg() {
  apt-cache depends linux-image-amd64 2>/dev/null |
    awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ {print $2; exit}'
}
kpkg=$(kernel_pkg)
if [[ -z $kpkg ]]; then
  timeout 600 apt-get update -q >/dev/null || e2e_die "apt-get update failed"
  kpkg=$(kernel_pkg)
fi
[[ -n $kpkg ]] || e2e_die "cannot resolve linux-image-amd64 to a kernel package (apt-get update?)"
# The hypervisor should match the toolstack Dom0 gets (the host's
# xen-utils); fall back to the archive's candidate if that version is gone.
tools_ver=$(dpkg-query -W -f='${Version}' "xen-utils-$E2E_XEN_VER" 2>/dev/null || true)
if [[ -n $tools_ver ]] && xen_deb=$( (e2e_fetch_deb "$DEBS" "xen-hypervisor-$E2E_XEN_VER-amd64" "$tools_ver") 2>/dev/null); then
  :
else
  e2e_log "WARNING: xen-hypervisor $tools_ver (= xen-utils) not downloadable; using the candidate"
  xen_deb=$(e2e_fetch_deb "$DEBS" "xen-hypervisor-$E2E_XEN_VER-amd64")
fi
kernel_deb=$(e2e_fetch_deb "$DEBS" "$kpkg")

stamp="$(basename "$xen_deb") $(basename "$kernel_deb")"
if [[ -f $PKGROOT/.stamp && $(cat "$PKGROOT/.stamp") == "$stamp" ]]; then
  e2e_log "boot packages already extracted ($stamp)"
  exit 0
fi
e2e_log "extracting $stamp"
rm -rf "$PKGROOT"
mkdir -p "$PKGROOT"
dpkg-deb -x "$xen_deb" "$PKGROOT"
dpkg-deb -x "$kernel_deb" "$PKGROOT"
gzip -dc "$PKGROOT/boot/xen-$E2E_XEN_VER-amd64.gz" >"$PKGROOT/boot/xen"
kver=${kpkg#linux-image-}
[[ -f $PKGROOT/boot/vmlinuz-$kver && -d $PKGROOT/lib/modules/$kver ]] ||
  e2e_die "kernel $kver not found in $kernel_deb"
printf '%s\n' "$kver" >"$PKGROOT/.kver"
printf '%s\n' "$stamp" >"$PKGROOT/.stamp"
