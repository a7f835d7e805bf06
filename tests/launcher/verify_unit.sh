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

# Restart policy (docs/operations.md, "Restart after a crash"): restarted on
# a crash or exit 1, never on exit 2 (usage), bounded, and the run directory
# with the state files survives the restart. `verify` accepts any of these
# missing, so each is asserted here.
setting() { # setting KEY VALUE: the unit sets KEY=VALUE exactly, once
  local n
  n=$(grep -cxF "$1=$2" "$unit")
  if ((n != 1)) || (($(grep -c "^$1=" "$unit") != 1)); then
    echo "want exactly one '$1=$2' in $unit; have: $(grep "^$1=" "$unit" | tr '\n' ' ')"
    exit 1
  fi
}
setting Restart on-failure
setting RestartPreventExitStatus 2
setting RuntimeDirectoryPreserve restart
# Short, and in [Service]; the start limit in [Unit], where systemd reads it.
section_of() { awk -v k="$1=" '/^\[/ { s = $0 } index($0, k) == 1 { print s }' "$unit"; }
restart_sec=$(sed -n 's/^RestartSec=\([0-9]*\)$/\1/p' "$unit")
if [[ -z $restart_sec ]] || ((restart_sec < 1 || restart_sec > 5)) || [[ $(section_of RestartSec) != "[Service]" ]]; then
  echo "want RestartSec= of 1 to 5 (seconds) in [Service], have '$(grep '^RestartSec=' "$unit")'"
  exit 1
fi
burst=$(sed -n 's/^StartLimitBurst=\([0-9]*\)$/\1/p' "$unit")
interval=$(sed -n 's/^StartLimitIntervalSec=\([0-9]*\)$/\1/p' "$unit")
if [[ -z $burst || -z $interval ]] || ((burst < 2 || burst > 10 || interval < 10)) ||
  [[ $(section_of StartLimitBurst) != "[Unit]" || $(section_of StartLimitIntervalSec) != "[Unit]" ]]; then
  echo "want StartLimitBurst= 2..10 and StartLimitIntervalSec= >= 10 in [Unit]"
  exit 1
fi
if grep -qi "not supported" "$unit"; then
  echo "the unit still says restarting is not supported"
  exit 1
fi
echo "restart policy: Restart=on-failure RestartSec=$restart_sec RestartPreventExitStatus=2, at most $burst starts in ${interval}s"
