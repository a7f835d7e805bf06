// ns per request on the request path without transport: a private ioreq_t
// copy through Dispatcher -> DeviceHost -> VgpuStub (and Claims for BAR0
// moves). See docs/performance.md for results and bench/run.sh to rerun.
#include <benchmark/benchmark.h>

#include "request_ops.h"

namespace vgpu::bench {
namespace {

void BM_RequestPath(benchmark::State& state, Op op, bool with_claims) {
  PathRig rig(with_claims);
  uint64_t i = 0;
  for (auto _ : state) {
    ioreq_t req = op_request(op, i);
    benchmark::DoNotOptimize(rig.dispatch(req));
    benchmark::DoNotOptimize(req.data);
    trim_call_log(rig, ++i);
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK_CAPTURE(BM_RequestPath, config_read, Op::kConfigRead, true);
BENCHMARK_CAPTURE(BM_RequestPath, bar0_read, Op::kBar0Read, true);
BENCHMARK_CAPTURE(BM_RequestPath, bar0_data_write, Op::kBar0DataWrite, true);
BENCHMARK_CAPTURE(BM_RequestPath, bar0_move, Op::kBar0Move, true);
// The same move with no listener: what the device and config space alone
// cost, without the claim bookkeeping and the (simulated) hypercalls.
BENCHMARK_CAPTURE(BM_RequestPath, bar0_move_device_only, Op::kBar0Move, false);

}  // namespace
}  // namespace vgpu::bench

int main(int argc, char** argv) {
  vgpu::bench::silence_logging();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
