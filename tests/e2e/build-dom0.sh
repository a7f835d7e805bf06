#!/bin/bash
# Builds the e2e Dom0 initramfs: busybox plus the few Xen tools, the device
# model, the guest firmware and the Xen kernel modules Dom0 needs (copied from
# the host's Debian packages with their shared libraries), the guest image,
# vgpu-ioreqd and its launcher, and tests/e2e/dom0/init as /init.
#
#   build-dom0.sh [--mode launcher|direct|none] [--vcpus "1 2"]
#                 [--daemon PATH] [--daemon-args "ARGS"] [--extra DIR] [BUILD_DIR]
#   --extra DIR: DIR's files are copied into the initramfs as they are (the
#      crash study's plan and tools, tests/e2e/study), executables with their
#      shared libraries
#   -> BUILD_DIR/dom0/dom0.cpio (uncompressed: the kernel unpacks it faster
#      than it could gunzip it under TCG)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODE=none
VCPUS="1 2"
DAEMON=
DAEMON_ARGS="--log-level debug"
EXTRA=
BUILD_DIR=
while (($#)); do
  case $1 in
    --mode) MODE=$2; shift 2 ;;
    --vcpus) VCPUS=$2; shift 2 ;;
    --daemon) DAEMON=$2; shift 2 ;;
    --daemon-args) DAEMON_ARGS=$2; shift 2 ;;
    --extra) EXTRA=$2; shift 2 ;;
    -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) e2e_die "unknown option $1" ;;
    *) BUILD_DIR=$1; shift ;;
  esac
done
case $MODE in launcher | direct | none) ;; *) e2e_die "bad --mode $MODE" ;; esac
BUILD_DIR=$(realpath -m "${BUILD_DIR:-$E2E_REPO_DIR/build-e2e}")
PKGROOT=$BUILD_DIR/pkgroot
OUT=$BUILD_DIR/dom0
ROOT=$OUT/root
XENBIN=/usr/lib/xen-$E2E_XEN_VER/bin

[[ -f $PKGROOT/.stamp ]] || e2e_die "kernel not extracted; run fetch-boot.sh $BUILD_DIR first"
[[ -f $BUILD_DIR/guest/guest.img ]] || e2e_die "no guest image; run build-guest.sh $BUILD_DIR first"
KVER=$(cat "$PKGROOT/.kver")
if [[ $MODE != none ]]; then
  [[ -x $DAEMON ]] || e2e_die "--mode $MODE needs --daemon PATH (got '${DAEMON}')"
fi
if [[ $MODE == launcher ]]; then
  [[ -x $E2E_REPO_DIR/launcher/vgpu-xl-create ]] || e2e_die "launcher/vgpu-xl-create missing"
fi

e2e_log "dom0: assembling initramfs (mode=$MODE vcpus='$VCPUS')"
mkdir -p "$OUT"
e2e_mkroot "$ROOT"
mkdir -p "$ROOT"/{e2e,etc/xen,var/lib/xen,var/log/xen,lib/modules,opt/vgpu}

# Toolstack: the real binaries (Debian's /usr/sbin/xl etc. are version
# wrapper scripts), the xenstore multi-call client and the device model.
e2e_copy_with_libs "$ROOT" \
  "$XENBIN/xl" "$XENBIN/xenstored" "$XENBIN/xenconsoled" "$XENBIN/xen-init-dom0" \
  "$XENBIN/libxl-save-helper" /usr/bin/xenstore /usr/libexec/xen-qemu-system-i386 \
  /bin/bash /usr/bin/flock \
  "$XENBIN/xenctx" "$XENBIN/xen-hvmcrash" # crash_report and the retry self-test (dom0/init)
for t in read write exists list ls rm chmod watch; do
  ln -sf xenstore "$ROOT/usr/bin/xenstore-$t"
done
# Guest firmware: hvmloader, which gets SeaBIOS from libxl as a module.
e2e_copy_file "$ROOT" "/usr/lib/xen-$E2E_XEN_VER/boot/hvmloader"
e2e_copy_file "$ROOT" /usr/share/seabios/bios-256k.bin
# QEMU's data directory (keymaps, option ROMs); dangling links are harmless.
cp -a /usr/share/qemu "$ROOT/usr/share/qemu"
: >"$ROOT/etc/xen/xl.conf"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$ROOT/etc/passwd"
printf 'root:x:0:\ntty:x:5:\n' >"$ROOT/etc/group"

# Kernel modules the toolstack needs (none of them has dependencies outside
# this list; see modules' depends= fields).
for m in xen-evtchn xen-privcmd xenfs/xenfs xen-gntdev xen-gntalloc; do
  cp "$PKGROOT/lib/modules/$KVER/kernel/drivers/xen/$m.ko" "$ROOT/lib/modules/"
done

# Busybox last: real binaries copied above win over its applets.
e2e_install_busybox "$ROOT"

# Product under test.
if [[ -n $DAEMON ]]; then
  e2e_copy_libs "$ROOT" "$DAEMON"
  rm -f "$ROOT/usr/bin/vgpu-ioreqd"
  # Debug info only costs load time under TCG; the host keeps the original.
  # (Not an ELF file, e.g. a stand-in script: copied as it is.)
  objcopy --strip-debug "$DAEMON" "$ROOT/usr/bin/vgpu-ioreqd" 2>/dev/null ||
    cp "$DAEMON" "$ROOT/usr/bin/vgpu-ioreqd"
  chmod 0755 "$ROOT/usr/bin/vgpu-ioreqd"
fi
if [[ -d $E2E_REPO_DIR/launcher ]]; then
  cp -a "$E2E_REPO_DIR/launcher" "$ROOT/opt/vgpu/launcher"
fi

install -m 0755 "$E2E_SRC_DIR/dom0/init" "$ROOT/init"
install -m 0644 "$E2E_SRC_DIR/dom0/pair.sh" "$ROOT/e2e/pair.sh"
gcc -O2 -Wall -Wextra -Werror -o "$OUT/e2e-reaper" "$E2E_SRC_DIR/dom0/reaper.c"
install -m 0755 "$OUT/e2e-reaper" "$ROOT/usr/bin/e2e-reaper"
cp "$BUILD_DIR/guest/guest.img" "$ROOT/e2e/guest.img"
# Where the pair phase switches the image's restart soak on.
cp "$BUILD_DIR/guest/guest.img.rsoak-at" "$ROOT/e2e/guest.img.rsoak-at"
if [[ -n $EXTRA ]]; then
  cp -a "$EXTRA/." "$ROOT/"
  while IFS= read -r -d '' f; do
    e2e_copy_libs "$ROOT" "$f"
  done < <(find "$EXTRA" -type f -perm -u+x -print0)
fi
{
  printf 'E2E_MODE=%q\n' "$MODE"
  printf 'E2E_VCPUS=%q\n' "$VCPUS"
  printf 'E2E_DAEMON_ARGS=%q\n' "$DAEMON_ARGS"
  # Quoted: a value may hold spaces (E2E_GUEST_CMDLINE, which Dom0 ignores).
  while IFS='=' read -r k v; do
    printf 'export %s=%q\n' "$k" "$v"
  done < <(env | grep -E '^E2E_(LAUNCH|GUEST|EXIT|DIRECT|PAIR)_[A-Z_]+=' || true)
} >"$ROOT/e2e/e2e.conf"

e2e_cpio "$ROOT" "$OUT/dom0.cpio"
e2e_log "dom0: $OUT/dom0.cpio ($(du -h "$OUT/dom0.cpio" | cut -f1))"
