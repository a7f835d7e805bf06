// Driver for `valgrind --tool=callgrind --toggle-collect=vgpu_bench_measured`:
// runs N requests of one kind inside one function, so callgrind's instruction
// count divided by N is the cost of one request, independent of the noise on
// a shared machine. Usage: vgpu_request_path_count <op> [N]
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "request_ops.h"

using vgpu::bench::Op;
using vgpu::bench::PathRig;

// Not inlined and with C linkage so callgrind can toggle collection on it.
extern "C" __attribute__((noinline)) uint64_t vgpu_bench_measured(PathRig* rig, Op op,
                                                                  uint64_t first, uint64_t n) {
  uint64_t sink = 0;
  for (uint64_t i = first; i < first + n; ++i) {
    ioreq_t req = vgpu::bench::op_request(op, i);
    rig->dispatch(req);
    sink += req.data;
    vgpu::bench::trim_call_log(*rig, i + 1);
  }
  return sink;
}

// The same loop, not collected: first-use costs (lazy binding, the rate
// limiter's first window, vector growth) stay out of the count.
extern "C" __attribute__((noinline)) uint64_t vgpu_bench_warmup(PathRig* rig, Op op, uint64_t n) {
  uint64_t sink = 0;
  for (uint64_t i = 0; i < n; ++i) {
    ioreq_t req = vgpu::bench::op_request(op, i);
    rig->dispatch(req);
    sink += req.data;
  }
  return sink;
}

int main(int argc, char** argv) {
  using namespace vgpu::bench;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <op> [count]\nops:", argv[0]);
    for (const OpInfo& o : kOps) std::fprintf(stderr, " %.*s", int(o.name.size()), o.name.data());
    std::fputc('\n', stderr);
    return 2;
  }
  const uint64_t n = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 100000;
  for (const OpInfo& o : kOps) {
    if (o.name != argv[1]) continue;
    silence_logging();
    PathRig rig;
    uint64_t sink = vgpu_bench_warmup(&rig, o.op, 1000);
    // Start at an even index so the BAR0 move alternates as in the warm-up.
    sink += vgpu_bench_measured(&rig, o.op, 1000, n);
    std::printf("%.*s %llu requests (checksum %llu)\n", int(o.name.size()), o.name.data(),
                static_cast<unsigned long long>(n), static_cast<unsigned long long>(sink));
    return 0;
  }
  std::fprintf(stderr, "unknown op %s\n", argv[1]);
  return 2;
}
