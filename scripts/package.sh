#!/usr/bin/env bash
# Builds the Debian packages from a clean copy of the tracked files (so the
# checkout stays untouched and the result does not depend on local build
# directories), then checks them with lintian: any lintian error fails.
#
#   scripts/package.sh [OUT_DIR]      (default: build-deb)
#
# Prints the packages, their sizes and dependencies, and lintian's findings.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$root/build-deb}")
"$root/scripts/install-deps.sh"

rm -rf "$out"
mkdir -p "$out/src"
# The tracked tree as committed or staged, without build directories.
git -C "$root" ls-files -z --cached | (cd "$root" && xargs -0 cp --parents -t "$out/src")
(cd "$out/src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
  dpkg-buildpackage -b -us -uc >"$out/build.log" 2>&1) || {
  tail -n 40 "$out/build.log"
  echo "package: dpkg-buildpackage failed (log: $out/build.log)" >&2
  exit 1
}

shopt -s nullglob
debs=("$out"/*.deb "$out"/*.ddeb)
((${#debs[@]})) || { echo "package: no package was built" >&2; exit 1; }
for deb in "${debs[@]}"; do
  printf '== %s (%s bytes)\n' "$(basename "$deb")" "$(stat -c %s "$deb")"
  dpkg-deb -f "$deb" Package Version Architecture Depends | sed 's/^/   /'
done
changes=("$out"/*.changes)
echo "== lintian"
lintian_out=$(lintian --fail-on error --display-info "${changes[0]}" 2>&1) || {
  printf '%s\n' "$lintian_out"
  echo "package: lintian reports errors" >&2
  exit 1
}
printf '%s\n' "${lintian_out:-(no findings)}"
echo "package: OK"
