#!/bin/bash
# Builds the guest side of the project for the e2e guest: the vgpu kernel
# module against the headers of the very kernel the guest boots (Debian's
# linux-headers-<kver>, its -common part and linux-kbuild, fetched and
# extracted like the kernel itself; nothing is installed on this machine),
# and a static vgpuctl. The module is built from a copy of the sources laid
# out as the DKMS tree is (include/uapi next to the sources).
#
#   build-guest-driver.sh [BUILD_DIR]  -> BUILD_DIR/guest/driver/{vgpu.ko,vgpuctl}
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BUILD_DIR=$(realpath -m "${1:-$E2E_REPO_DIR/build-e2e}")
PKGROOT=$BUILD_DIR/pkgroot
DEBS=$BUILD_DIR/debs
HROOT=$BUILD_DIR/kheaders
OUT=$BUILD_DIR/guest/driver
GUEST_SRC=$E2E_REPO_DIR/guest

[[ -f $PKGROOT/.kver ]] || e2e_die "kernel not extracted; run fetch-boot.sh $BUILD_DIR first"
KVER=$(cat "$PKGROOT/.kver")
kbase=${KVER%-amd64}                   # 6.1.0-57
kseries=$(sed -E 's/^([0-9]+\.[0-9]+).*/\1/' <<<"$KVER") # 6.1

debs=(
  "$(e2e_fetch_deb "$DEBS" "linux-headers-$KVER")"
  "$(e2e_fetch_deb "$DEBS" "linux-headers-$kbase-common")"
  "$(e2e_fetch_deb "$DEBS" "linux-kbuild-$kseries")"
)
stamp=$(for d in "${debs[@]}"; do basename "$d"; done | tr '\n' ' ')
KDIR=$HROOT/usr/src/linux-headers-$KVER
if [[ ! -f $HROOT/.stamp || $(cat "$HROOT/.stamp") != "$stamp" ]]; then
  e2e_log "extracting kernel headers for $KVER"
  rm -rf "$HROOT"
  mkdir -p "$HROOT"
  for d in "${debs[@]}"; do dpkg-deb -x "$d" "$HROOT"; done
  # The arch part includes the common part by absolute path; point it at
  # the extracted copy (the kbuild symlinks are relative already).
  sed -i "s|/usr/src/|$HROOT/usr/src/|g" "$KDIR/Makefile"
  printf '%s\n' "$stamp" >"$HROOT/.stamp"
fi
[[ -f $KDIR/.config && -d $KDIR/scripts/ ]] || e2e_die "incomplete kernel headers in $KDIR"

e2e_log "guest: building vgpu.ko for $KVER"
rm -rf "$OUT"
mkdir -p "$OUT/src/include/uapi"
cp "$GUEST_SRC"/linux/{Kbuild,Makefile,dkms.conf,*.c,*.h} "$OUT/src/"
cp "$GUEST_SRC/include/uapi/vgpu.h" "$OUT/src/include/uapi/"
if ! make -C "$OUT/src" KDIR="$KDIR" W=1 >"$OUT/module-build.log" 2>&1; then
  tail -n 40 "$OUT/module-build.log" >&2
  e2e_die "building vgpu.ko failed (see $OUT/module-build.log)"
fi
if grep -E 'warning:' "$OUT/module-build.log" >&2; then
  e2e_die "building vgpu.ko gave warnings (see $OUT/module-build.log)"
fi
# (debug info would triple the initramfs)
strip --strip-debug -o "$OUT/vgpu.ko" "$OUT/src/vgpu.ko"

e2e_log "guest: building vgpuctl (static)"
make -s -C "$GUEST_SRC" OUT="$OUT/user" >"$OUT/user-build.log" 2>&1 ||
  { tail -n 40 "$OUT/user-build.log" >&2; e2e_die "building vgpuctl failed"; }
cp "$OUT/user/vgpuctl" "$OUT/vgpuctl"
