#!/bin/bash
# Builds the e2e HVM guest: a busybox initramfs holding lspci, pci.ids and the
# static mmio-test, mmio-bench and queue-test, the vgpu module and vgpuctl
# (build-guest-driver.sh), plus the Debian kernel, on a small
# syslinux-bootable FAT image (SeaBIOS boots it from the emulated AHCI disk
# much faster than xl's direct kernel boot through the device model).
#
#   build-guest.sh [BUILD_DIR]      -> BUILD_DIR/guest/guest.img
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BUILD_DIR=$(realpath -m "${1:-$E2E_REPO_DIR/build-e2e}")
PKGROOT=$BUILD_DIR/pkgroot
OUT=$BUILD_DIR/guest
ROOT=$OUT/root

[[ -f $PKGROOT/.stamp ]] || e2e_die "kernel not extracted; run fetch-boot.sh $BUILD_DIR first"
KVER=$(cat "$PKGROOT/.kver")
VMLINUZ=$PKGROOT/boot/vmlinuz-$KVER

mkdir -p "$OUT"
e2e_log "guest: compiling mmio-test and mmio-bench (static)"
gcc -static -O2 -Wall -Wextra -Werror -o "$OUT/mmio-test" "$E2E_SRC_DIR/guest/mmio-test.c"
gcc -static -O2 -Wall -Wextra -Werror -o "$OUT/mmio-bench" "$E2E_SRC_DIR/guest/mmio-bench.c"
# The command queue, driven from userspace with no kernel driver.
gcc -static -O2 -Wall -Wextra -Werror -o "$OUT/queue-test" "$E2E_SRC_DIR/guest/queue-test.c"

# The guest driver (vgpu.ko for this very kernel) and vgpuctl.
"$E2E_SRC_DIR/build-guest-driver.sh" "$BUILD_DIR"

e2e_log "guest: assembling initramfs"
e2e_mkroot "$ROOT"
e2e_install_busybox "$ROOT"
e2e_copy_with_libs "$ROOT" /usr/bin/lspci
e2e_copy_file "$ROOT" /usr/share/misc/pci.ids
install -m 0755 "$OUT/mmio-test" "$ROOT/usr/bin/mmio-test"
install -m 0755 "$OUT/mmio-bench" "$ROOT/usr/bin/mmio-bench"
install -m 0755 "$OUT/queue-test" "$ROOT/usr/bin/queue-test"
install -D -m 0644 "$OUT/driver/vgpu.ko" "$ROOT/usr/lib/vgpu/vgpu.ko"
install -m 0755 "$OUT/driver/vgpuctl" "$ROOT/usr/bin/vgpuctl"
install -m 0755 "$E2E_SRC_DIR/guest/driver-test.sh" "$ROOT/usr/bin/driver-test.sh"
install -m 0755 "$E2E_SRC_DIR/guest/init" "$ROOT/init"
e2e_cpio "$ROOT" "$OUT/initrd.gz" gzip

# Kernel command line: hvc0 is the PV console xenconsoled logs; pci=noearly
# avoids a slow early PCI scan with the qemu64 CPU model; loglevel keeps the
# console quiet (the full dmesg is dumped by /init).
GUEST_CMDLINE=${E2E_GUEST_CMDLINE:-console=hvc0 pci=noearly loglevel=4 panic=-1}

e2e_log "guest: building FAT boot image"
cat >"$OUT/syslinux.cfg" <<EOF
DEFAULT e2e
PROMPT 0
TIMEOUT 0
LABEL e2e
  KERNEL vmlinuz
  INITRD initrd.gz
  APPEND $GUEST_CMDLINE
EOF
size_kib=$(($(stat -c %s "$VMLINUZ" "$OUT/initrd.gz" | awk '{s += $1} END {print s}') / 1024 + 2048))
rm -f "$OUT/guest.img.tmp"
mkfs.vfat -C -n E2EGUEST "$OUT/guest.img.tmp" "$size_kib" >/dev/null
syslinux --install "$OUT/guest.img.tmp"
MTOOLS_SKIP_CHECK=1 mcopy -i "$OUT/guest.img.tmp" "$VMLINUZ" ::vmlinuz
MTOOLS_SKIP_CHECK=1 mcopy -i "$OUT/guest.img.tmp" "$OUT/initrd.gz" ::initrd.gz
MTOOLS_SKIP_CHECK=1 mcopy -i "$OUT/guest.img.tmp" "$OUT/syslinux.cfg" ::syslinux.cfg
mv "$OUT/guest.img.tmp" "$OUT/guest.img"
e2e_log "guest: $OUT/guest.img ($(du -h "$OUT/guest.img" | cut -f1), initrd $(du -h "$OUT/initrd.gz" | cut -f1))"
