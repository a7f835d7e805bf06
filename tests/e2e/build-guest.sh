#!/bin/bash
# Builds the e2e HVM guest: a busybox initramfs holding lspci, pci.ids and the
# static mmio-test, mmio-bench, queue-test and rsoak, the vgpu module and vgpuctl
# (build-guest-driver.sh), nvme-bench with the kernel's nvme modules (the
# comparison with QEMU's NVMe emulation), plus the Debian kernel, on a small
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
# The restart soak of Dom0's pair phase.
gcc -static -O2 -Wall -Wextra -Werror -o "$OUT/rsoak" "$E2E_SRC_DIR/guest/rsoak.c"

# The guest driver (vgpu.ko for this very kernel) and vgpuctl.
"$E2E_SRC_DIR/build-guest-driver.sh" "$BUILD_DIR"
# Ours against QEMU's NVMe, through the driver and libvgpu.
gcc -static -O2 -Wall -Wextra -Werror -I"$E2E_REPO_DIR/guest/include" -I"$E2E_REPO_DIR/guest/lib" \
  -o "$OUT/nvme-bench" "$E2E_SRC_DIR/guest/nvme-bench.c" "$OUT/driver/user/libvgpu.a"

# nvme.ko and what it depends on (from the modules' .modinfo; the guest has
# no modprobe and no module index), listed dependencies first.
MODDIR=$PKGROOT/lib/modules/$KVER
mod_path() { find "$MODDIR/kernel" \( -name "$1.ko" -o -name "${1//-/_}.ko" -o -name "${1//_/-}.ko" \) -print -quit; }
mod_deps() { objcopy -O binary -j .modinfo "$1" /dev/stdout | tr '\0' '\n' | sed -n 's/^depends=//p' | tr ',' ' '; }
NVME_MODS=()
add_mod() { # add_mod NAME: NAME's dependencies, then NAME, each once
  local f d
  f=$(mod_path "$1")
  [[ -n $f ]] || e2e_die "kernel module $1 not found under $MODDIR"
  [[ " ${NVME_MODS[*]} " == *" $f "* ]] && return 0
  for d in $(mod_deps "$f"); do add_mod "$d"; done
  NVME_MODS+=("$f")
}
add_mod nvme

e2e_log "guest: assembling initramfs"
e2e_mkroot "$ROOT"
e2e_install_busybox "$ROOT"
e2e_copy_with_libs "$ROOT" /usr/bin/lspci
e2e_copy_file "$ROOT" /usr/share/misc/pci.ids
install -m 0755 "$OUT/mmio-test" "$ROOT/usr/bin/mmio-test"
install -m 0755 "$OUT/mmio-bench" "$ROOT/usr/bin/mmio-bench"
install -m 0755 "$OUT/queue-test" "$ROOT/usr/bin/queue-test"
install -m 0755 "$OUT/rsoak" "$ROOT/usr/bin/rsoak"
install -D -m 0644 "$OUT/driver/vgpu.ko" "$ROOT/usr/lib/vgpu/vgpu.ko"
install -m 0755 "$OUT/driver/vgpuctl" "$ROOT/usr/bin/vgpuctl"
install -m 0755 "$E2E_SRC_DIR/guest/driver-test.sh" "$ROOT/usr/bin/driver-test.sh"
install -m 0755 "$OUT/nvme-bench" "$ROOT/usr/bin/nvme-bench"
mkdir -p "$ROOT/usr/lib/nvme"
for f in "${NVME_MODS[@]}"; do
  strip --strip-debug -o "$ROOT/usr/lib/nvme/$(basename "$f")" "$f"
  basename "$f" >>"$ROOT/usr/lib/nvme/load-order"
done
install -m 0755 "$E2E_SRC_DIR/guest/init" "$ROOT/init"
e2e_cpio "$ROOT" "$OUT/initrd.gz" gzip

# Kernel command line: hvc0 is the PV console xenconsoled logs; pci=noearly
# avoids a slow early PCI scan with the qemu64 CPU model; loglevel keeps the
# console quiet (the full dmesg is dumped by /init). xen_emul_unplug=never:
# otherwise the kernel asks the Xen platform device to unplug emulated disks,
# and QEMU then removes the NVMe controller too (the AHCI one it keeps).
GUEST_CMDLINE=${E2E_GUEST_CMDLINE:-console=hvc0 pci=noearly loglevel=4 panic=-1 xen_emul_unplug=never}
# The restart soak's switch, off; Dom0 turns it on in a copy of the image by
# overwriting the 3 digits at the offset recorded below (guest.img.rsoak-at),
# so both modes boot the same kernel and initramfs.
RSOAK_OFF=e2e.rsoak=000
GUEST_CMDLINE="$GUEST_CMDLINE $RSOAK_OFF"

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
# Where the switch's digits are in the image: syslinux.cfg is one small file
# in one cluster, so its text is contiguous and appears exactly once.
at=$(grep -obaF "$RSOAK_OFF" "$OUT/guest.img.tmp" | cut -d: -f1)
[[ $at =~ ^[0-9]+$ ]] || e2e_die "'$RSOAK_OFF' not found exactly once in the guest image"
echo $((at + ${#RSOAK_OFF} - 3)) >"$OUT/guest.img.rsoak-at"
mv "$OUT/guest.img.tmp" "$OUT/guest.img"
e2e_log "guest: $OUT/guest.img ($(du -h "$OUT/guest.img" | cut -f1), initrd $(du -h "$OUT/initrd.gz" | cut -f1))"
