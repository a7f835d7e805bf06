#!/usr/bin/env bash
# Builds the libFuzzer targets with clang + ASan + UBSan and runs each for
# a bounded time, starting from the seed corpus in fuzz/corpus/<target>/.
# Fails on any crash, sanitizer report, timeout or leak.
#
#   fuzz/run.sh [seconds-per-target]      (default 60)
#
# Environment: VGPU_FUZZ_BUILD (build dir, default build-fuzz), JOBS.
# The repository's seed corpus is never modified: each run grows a copy in
# the build dir. Crash inputs land in $build/artifacts/<target>/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
build=${VGPU_FUZZ_BUILD:-$root/build-fuzz}
jobs=${JOBS:-2}
targets=(fuzz_ioreq_slots fuzz_config_space fuzz_queue)

CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DVGPU_FUZZ=ON -DVGPU_BUILD_TESTS=OFF -DVGPU_BUILD_BENCH=OFF -DVGPU_WERROR=ON \
  -DVGPU_SANITIZE=address,undefined \
  "-DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link -fno-sanitize-recover=all" >/dev/null
cmake --build "$build" -j "$jobs" --target "${targets[@]}"

export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:strict_string_checks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
status=0
summary=()
for t in "${targets[@]}"; do
  work="$build/corpus/$t"
  artifacts="$build/artifacts/$t/"
  mkdir -p "$work" "$artifacts"
  log="$build/$t.log"
  echo "== $t: ${secs}s"
  if "$build/fuzz/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$artifacts" "$work" "$root/fuzz/corpus/$t" \
      >"$log" 2>&1; then
    result=ok
  else
    result=FAILED
    status=1
    grep -E "ERROR|FUZZ FINDING|runtime error|SUMMARY|Test unit written" "$log" | head -20 || true
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
  summary+=("$t: $result, ${execs:-?} executions in ${secs}s, $cov, corpus $(ls "$work" | wc -l) inputs")
done
echo "== fuzz summary"
printf '  %s\n' "${summary[@]}"
exit $status
