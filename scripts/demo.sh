#!/usr/bin/env bash
# Builds vgpu-sim and runs it: the real daemon against the simulated
# hypervisor, whose guest enumerates the bus like hvmloader and Linux,
# prints what lspci -nnv would show for the device, sends a PING through
# BAR0, and lists the XenStore backend.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" --target vgpu-sim
exec "$root/build/src/demo/vgpu-sim" --domid 1 --sbdf 00:05.0 --run-dir "$root/build/run" "$@"
