#!/usr/bin/env bash
# Builds everything with warnings as errors and runs every test: this is
# exactly what CI runs (.ci/run). In order, cheapest first:
#   1. build (-Werror) and the unit, integration, launcher and style tests (CTest)
#   2. the end-to-end test under a real Xen 4.17 in QEMU (tests/e2e/run.sh)
#   3. the whole CTest suite again under ASan+UBSan, its threaded suites under TSan
#   4. the libFuzzer targets, 60 s each
#   5. the Debian packages, built from the tracked files and checked by lintian
#   6. the benchmarks of the step-1 build, briefly (bench/run.sh --quick): they print numbers
#      for docs/performance.md and fail only if a benchmark breaks; timing
#      targets are judged on a quiet machine, not here
# Set VGPU_QUICK=1 to run step 1 only.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-ci"
"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVGPU_WERROR=ON
cmake --build "$build" -j "$(nproc)"
ctest --test-dir "$build" --output-on-failure -j "$(nproc)" -LE e2e
[[ ${VGPU_QUICK:-0} == 1 ]] && exit 0

"$root/tests/e2e/run.sh" --daemon "$build/src/app/vgpu-ioreqd" "$build/e2e"
"$root/scripts/sanitize.sh"
"$root/fuzz/run.sh" 60
"$root/scripts/package.sh" "$root/build-deb"
"$root/bench/run.sh" --quick --use-build "$build"
