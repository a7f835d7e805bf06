#!/bin/bash
# verify_unit.sh SYSTEMD_ANALYZE UNIT: `systemd-analyze verify` on an
# instance of the template unit, with the daemon path pointed at a binary
# that exists here (the daemon is not installed on a build machine).
set -euo pipefail
analyze=$1
unit=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed -E 's|^ExecStart=[^ ]+|ExecStart=/bin/true|' "$unit" >"$dir/vgpu-ioreqd@.service"
output=$(cd "$dir" && "$analyze" verify --man=no "$dir/vgpu-ioreqd@7.service" 2>&1) || {
  echo "$output"
  exit 1
}
# verify exits 0 on some problems; unknown settings only show up as text.
if grep -E "vgpu-ioreqd@" <<<"$output"; then
  exit 1
fi
echo "unit verifies"
