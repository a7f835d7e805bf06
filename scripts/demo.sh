#!/usr/bin/env bash
# Builds vgpu-ioreqd and runs it against the simulated hypervisor: a guest
# enumerates the bus like hvmloader and Linux, prints what lspci -nnv would
# show for the device, then sends a PING through BAR0.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" --target vgpu-ioreqd
exec "$root/build/src/app/vgpu-ioreqd" --domid 1 --sbdf 00:05.0 --simulate \
  --run-dir "$root/build/run" "$@"
