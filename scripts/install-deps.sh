#!/usr/bin/env bash
# Installs the Debian 12 packages needed to build and test vgpu-ioreqd.
# Idempotent and quick when everything is already there.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libxen-dev libspdlog-dev libfmt-dev libcli11-dev libisal-dev
  libseccomp-dev libgtest-dev libgmock-dev libbenchmark-dev
  clang-format shellcheck
  clang libclang-rt-14-dev valgrind
  debhelper dh-dkms dpkg-dev lintian
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
