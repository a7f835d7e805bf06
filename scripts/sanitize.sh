#!/usr/bin/env bash
# Builds the unit and integration suite twice with sanitizers and runs it:
#   ASan + UBSan: every test (ctest -LE e2e);
#   TSan:         the suites that run threads against each other: vCPU
#                 threads against the event loop (sim, integration,
#                 hardening), the queue's worker (queue, dma) and the
#                 coalescing timer (app). The single-threaded unit suites
#                 are left out: TSan has nothing to find there, and building
#                 them a third time costs CI minutes.
# Any sanitizer report fails the test that triggered it, and so this script.
#
#   scripts/sanitize.sh [asan|tsan|all]     (default all)
#
# Environment: VGPU_SAN_BUILD_PREFIX (default build-san: build-san-asan,
# build-san-tsan), JOBS (default nproc).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
which=${1:-all}
prefix=${VGPU_SAN_BUILD_PREFIX:-$root/build-san}
jobs=${JOBS:-$(nproc)}

configure_and_build() {  # dir sanitizers [target...]
  local dir=$1 sanitizers=$2
  shift 2
  cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVGPU_WERROR=ON \
    -DVGPU_BUILD_BENCH=OFF -DVGPU_SANITIZE="$sanitizers" \
    "-DCMAKE_CXX_FLAGS=-fno-sanitize-recover=all" >/dev/null
  local targets=()
  (($#)) && targets=(--target "$@")
  cmake --build "$dir" -j "$jobs" "${targets[@]}"
}

# The threaded suites: their test executables and their CTest labels.
tsan_targets=(daemon_sim_test lifecycle_test generic_device_test guest_flood_test
  trace_ring_sim_test queue_sim_test hardening_test sim_hypervisor_test sim_protocol_test
  sim_guest_test sim_guest_memory_test queue_test mapping_cache_test coalesced_updates_test
  restart_test)
tsan_labels='^(integration|sim|hardening|queue|dma|app)$'

if [[ $which == asan || $which == all ]]; then
  echo "== ASan + UBSan: whole suite"
  configure_and_build "$prefix-asan" address,undefined
  ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --test-dir "$prefix-asan" --output-on-failure -j "$jobs" -LE e2e
fi

if [[ $which == tsan || $which == all ]]; then
  echo "== TSan: the threaded suites"
  configure_and_build "$prefix-tsan" thread "${tsan_targets[@]}"
  # TSan needs a memory layout ASLR on recent kernels can break; the
  # setarch wrapper turns randomisation off for the test processes only.
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    setarch "$(uname -m)" -R ctest --test-dir "$prefix-tsan" --output-on-failure -j "$jobs" \
    -L "$tsan_labels"
fi
