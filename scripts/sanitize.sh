#!/usr/bin/env bash
# Builds the unit and integration suite twice with sanitizers and runs it:
#   ASan + UBSan: every test (ctest -LE e2e);
#   TSan:         every test as well; the ones that matter are those that
#                 drive vCPU threads against the event loop (sim,
#                 integration, hardening), and the rest cost little.
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

configure_and_build() {  # dir sanitizers
  cmake -S "$root" -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVGPU_WERROR=ON \
    -DVGPU_BUILD_BENCH=OFF -DVGPU_SANITIZE="$2" \
    "-DCMAKE_CXX_FLAGS=-fno-sanitize-recover=all" >/dev/null
  cmake --build "$1" -j "$jobs"
}

if [[ $which == asan || $which == all ]]; then
  echo "== ASan + UBSan: whole suite"
  configure_and_build "$prefix-asan" address,undefined
  ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --test-dir "$prefix-asan" --output-on-failure -j "$jobs" -LE e2e
fi

if [[ $which == tsan || $which == all ]]; then
  echo "== TSan: whole suite"
  configure_and_build "$prefix-tsan" thread
  # TSan needs a memory layout ASLR on recent kernels can break; the
  # setarch wrapper turns randomisation off for the test processes only.
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    setarch "$(uname -m)" -R ctest --test-dir "$prefix-tsan" --output-on-failure -j "$jobs" -LE e2e
fi
