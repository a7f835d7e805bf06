# shellcheck shell=bash
# Helpers shared by the e2e scripts (sourced, not executed).

E2E_SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_REPO_DIR=$(cd "$E2E_SRC_DIR/../.." && pwd)
export E2E_SRC_DIR E2E_REPO_DIR

# Versions the recipe is pinned to (Debian 12 "bookworm").
E2E_XEN_VER=4.17
export E2E_XEN_VER

e2e_log() { printf '[e2e %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
e2e_die() { printf '[e2e %(%H:%M:%S)T] ERROR: %s\n' -1 "$*" >&2; exit 1; }

# Host packages every stage needs. Installed only when something is missing,
# so a second run costs one dpkg-query.
E2E_HOST_PKGS=(
  xen-utils-4.17 xenstore-utils qemu-system-xen qemu-system-x86
  busybox-static pciutils pci.ids cpio syslinux syslinux-common mtools
  dosfstools gcc libc6-dev binutils
)

e2e_install_host_pkgs() {
  local missing=() p
  for p in "${E2E_HOST_PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
      missing+=("$p")
    fi
  done
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  [[ $(id -u) -eq 0 ]] || e2e_die "missing host packages (${missing[*]}) and not root to install them"
  e2e_log "installing host packages: ${missing[*]}"
  timeout 600 apt-get update -q -o DPkg::Lock::Timeout=300 >/dev/null || e2e_die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q --no-install-recommends \
    -o DPkg::Lock::Timeout=300 \
    "${missing[@]}" >/dev/null || e2e_die "apt-get install ${missing[*]} failed"
}

# e2e_fetch_deb DEBDIR PACKAGE [VERSION] -> prints the path of the .deb
# (downloads it with apt-get download unless a matching file is already
# there). Without VERSION: the candidate version.
e2e_fetch_deb() {
  local dir=$1 pkg=$2 ver=${3:-} file
  [[ -n $ver ]] || ver=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}')
  if [[ -z $ver || $ver == "(none)" ]]; then
    # A fresh machine may have no package lists yet.
    timeout 600 apt-get update -q >/dev/null || e2e_die "apt-get update failed"
    ver=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}')
  fi
  [[ -n $ver && $ver != "(none)" ]] || e2e_die "no candidate version for $pkg in the apt sources"
  # apt-get download keeps the epoch, escaping ':' as %3a; the architecture
  # is amd64 or, for arch-independent packages (headers' common part), all.
  local base="$dir/${pkg}_${ver//:/%3a}" arch
  file=
  for arch in amd64 all; do [[ -s ${base}_$arch.deb ]] && file=${base}_$arch.deb; done
  if [[ -z $file ]]; then
    mkdir -p "$dir"
    (cd "$dir" && timeout 600 apt-get download -q "$pkg=$ver" >/dev/null 2>&1) ||
      e2e_die "apt-get download $pkg=$ver failed"
    for arch in amd64 all; do [[ -s ${base}_$arch.deb ]] && file=${base}_$arch.deb; done
  fi
  [[ -n $file ]] || e2e_die "expected ${base}_{amd64,all}.deb after apt-get download"
  printf '%s\n' "$file"
}

# e2e_copy_file ROOT SRC [DEST]: copies SRC (following symlinks) into ROOT at
# DEST (default: the same path).
e2e_copy_file() {
  local root=$1 src=$2 dest=${3:-$2}
  mkdir -p "$root$(dirname "$dest")"
  # --remove-destination: never write through a symlink already there (a
  # busybox applet link would otherwise turn busybox itself into SRC).
  cp -L --preserve=mode --remove-destination "$src" "$root$dest"
}

# e2e_copy_with_libs ROOT BINARY...: copies each binary and the shared
# libraries ldd reports for it (plus the dynamic loader) into ROOT.
e2e_copy_with_libs() {
  local root=$1 bin
  shift
  for bin in "$@"; do
    [[ -e $bin ]] || e2e_die "binary $bin not found"
    e2e_copy_file "$root" "$bin"
    e2e_copy_libs "$root" "$bin"
  done
}

# e2e_copy_libs ROOT BINARY: only the shared libraries (and loader) of BINARY.
e2e_copy_libs() {
  local root=$1 bin=$2 lib
  while read -r lib; do
    [[ -n $lib ]] || continue
    [[ -e $root$lib ]] || e2e_copy_file "$root" "$lib"
  done < <(ldd "$bin" 2>/dev/null | awk '
      $2 == "=>" && $3 ~ /^\// { print $3; next }
      $1 ~ /^\// { print $1 }')
}

# e2e_mkroot ROOT: an empty merged-/usr root directory skeleton.
e2e_mkroot() {
  local root=$1
  rm -rf "$root"
  mkdir -p "$root"/{usr/bin,usr/sbin,usr/lib,usr/lib64,dev,proc,sys,run,tmp,etc,var,root}
  ln -s usr/bin "$root/bin"
  ln -s usr/sbin "$root/sbin"
  ln -s usr/lib "$root/lib"
  ln -s usr/lib64 "$root/lib64"
  ln -s ../run "$root/var/run"
  chmod 1777 "$root/tmp"
}

# e2e_install_busybox ROOT: static busybox with its applets as symlinks
# (existing files win).
e2e_install_busybox() {
  local root=$1 applet
  cp /bin/busybox "$root/usr/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [[ $applet == busybox ]] && continue
    [[ -e $root/usr/bin/$applet ]] || ln -s busybox "$root/usr/bin/$applet"
  done
}

# e2e_cpio ROOT OUT [gzip]: newc archive of ROOT, owned by root.
e2e_cpio() {
  local root=$1 out=$2 compress=${3:-}
  if [[ $compress == gzip ]]; then
    (cd "$root" && find . -print0 | LC_ALL=C sort -z |
      cpio --null -o -H newc -R 0:0 --quiet | gzip -6 -n) >"$out.tmp"
  else
    (cd "$root" && find . -print0 | LC_ALL=C sort -z |
      cpio --null -o -H newc -R 0:0 --quiet) >"$out.tmp"
  fi
  mv "$out.tmp" "$out"
}
