#!/usr/bin/env bash
# Builds Release, runs the benchmarks and callgrind, and prints the numbers
# docs/performance.md records, with the machine they ran on.
#
#   bench/run.sh [--quick] [--use-build DIR]
#
# --quick: brief runs (CI's smoke check; the numbers are not a measurement).
# --use-build DIR: run the benchmarks of an existing, already built tree
#   (CI's main RelWithDebInfo build) instead of configuring a Release one.
# Environment: VGPU_BENCH_BUILD (default build-bench), JOBS (default 2).
# Timing numbers on a shared machine are noisy: the callgrind instruction
# counts are the repeatable ones. The round trip is run twice: as the
# scheduler places it, and (as root) pinned to one CPU under SCHED_FIFO,
# which removes other processes' load and cross-CPU wake-up latency from
# both ours and the limit alike.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VGPU_BENCH_BUILD:-$root/build-bench}
jobs=${JOBS:-2}
quick=
use_build=
while (($#)); do
  case $1 in
    --quick) quick=--quick; shift ;;
    --use-build) use_build=$2; shift 2 ;;
    *) echo "bench/run.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
min_time=1; reps=3; callgrind_n=200000; runs=20
if [[ $quick == --quick ]]; then min_time=0.2; reps=1; callgrind_n=20000; runs=5; fi

targets=(vgpu_bench_request_path vgpu_bench_round_trip vgpu_request_path_count
  vgpu_startup_probe vgpu-sim vgpu_bench_queue vgpu_bench_restart)
if [[ -n $use_build ]]; then
  build=$use_build
  echo "== benchmarks of the existing build $build ($(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt"))"
else
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVGPU_BUILD_TESTS=OFF \
    -DVGPU_BUILD_BENCH=ON >/dev/null
fi
cmake --build "$build" -j "$jobs" --target "${targets[@]}"
b="$build/bench"

echo "== machine"
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; $(lscpu | sed -n 's/^Hypervisor vendor: *//p' | sed 's/^/virtualised: /')"
echo "kernel: $(uname -r); compiler: $(c++ --version | head -1); load: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== request path without transport: instructions per request (callgrind)"
for op in config_read bar0_read bar0_data_write bar0_move; do
  out=$(mktemp)
  valgrind --tool=callgrind --toggle-collect=vgpu_bench_measured --callgrind-out-file="$out" \
    "$b/vgpu_request_path_count" "$op" "$callgrind_n" >/dev/null 2>&1
  ir=$(sed -n 's/^totals: *//p' "$out" | awk '{print $1}')
  rm -f "$out"
  awk -v op="$op" -v ir="$ir" -v n="$callgrind_n" \
    'BEGIN { printf "INSTR %-16s %8.1f instructions/request\n", op, ir / n }'
done

echo "== request path without transport: ns per request (Google Benchmark, median of $reps)"
"$b/vgpu_bench_request_path" --benchmark_min_time="$min_time" --benchmark_repetitions="$reps" \
  --benchmark_report_aggregates_only=true --benchmark_color=false

echo "== round trip, as scheduled (load: $(cut -d' ' -f1 /proc/loadavg))"
"$b/vgpu_bench_round_trip" --benchmark_min_time="$min_time" --benchmark_repetitions="$reps" \
  --benchmark_report_aggregates_only=true --benchmark_color=false | sed -n '/^round trips/,$p'
if [[ $(id -u) == 0 ]]; then
  echo "== round trip, pinned to CPU 1 under SCHED_FIFO"
  # A sandbox may refuse SCHED_FIFO or CPU pinning: then say so and go on.
  if ! taskset -c 1 chrt -f 10 "$b/vgpu_bench_round_trip" --benchmark_min_time="$min_time" \
    --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true \
    --benchmark_color=false | sed -n '/^round trips/,$p'; then
    echo "(pinning or SCHED_FIFO refused here: no pinned numbers)"
  fi
fi

echo "== command queue: rates, copy throughput, map calls (load: $(cut -d' ' -f1 /proc/loadavg))"
"$b/vgpu_bench_queue" ${quick:+"$quick"}

echo "== restart under a running guest: take-over to the waiting request answered ($((runs < 20 ? 20 : runs)) runs)"
"$b/vgpu_bench_restart" --runs $((runs < 20 ? 20 : runs)) || echo "RESTART bench failed"

echo "== exec -> serving and RSS (vgpu-sim: the daemon plus its simulated guest, $runs runs)"
rundir=$(mktemp -d)
"$b/vgpu_startup_probe" --runs "$runs" --settle-ms 500 -- "$build/src/demo/vgpu-sim" \
  --domid 1 --sbdf 00:05.0 --run-dir "$rundir" || echo "STARTUP probe failed"
rm -rf "$rundir"
