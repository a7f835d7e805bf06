// Round trips through the real event loop and ioreq server against the
// simulated hypervisor, beside the limit measured in the same run: a bare
// ping-pong over the same notification mechanism (ping_pong.h). Prints
// ours / limit at the end. Rerun with bench/run.sh.
#include <benchmark/benchmark.h>
#include <time.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "ping_pong.h"
#include "rig.h"
#include "vgpu/device/registers.h"

namespace vgpu::bench {
namespace {

// Built once in main() and shared by a benchmark's threads: thread i plays
// vCPU i (or ping-pong channel i).
std::map<unsigned, std::unique_ptr<ServingRig>> g_rigs;
std::map<unsigned, std::unique_ptr<PingPong>> g_bare;
std::map<unsigned, std::unique_ptr<PingPong>> g_masked;

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// CPU time of the whole process (guest threads and server thread) across
// the timed loop, read by thread 0 around it. Unlike throughput, it hardly
// depends on how busy the shared machine is or where threads are placed.
class ProcessCpu {
 public:
  explicit ProcessCpu(const benchmark::State& state)
      : state_(state), start_(state.thread_index() == 0 ? process_cpu_seconds() : 0) {}
  double seconds() const { return process_cpu_seconds() - start_; }
  bool owner() const { return state_.thread_index() == 0; }

 private:
  const benchmark::State& state_;
  double start_;
};

void count(benchmark::State& state, const ProcessCpu& cpu) {
  state.counters["req_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  // Summed over threads by the library, so only thread 0 reports it, per
  // request of every thread (iterations are per thread; all run as long).
  if (cpu.owner()) {
    const double requests = static_cast<double>(state.iterations()) * state.threads();
    state.counters["cpu_us_per_req"] = cpu.seconds() * 1e6 / requests;
  } else {
    state.counters["cpu_us_per_req"] = 0;
  }
}

// The limit: no slot, no lock, no device; just the notifications.
void BM_Limit(benchmark::State& state) {
  PingPong& pp = *g_bare.at(static_cast<unsigned>(state.threads()));
  const auto ch = static_cast<unsigned>(state.thread_index());
  ProcessCpu cpu(state);
  for (auto _ : state) pp.round_trip(ch);
  count(state, cpu);
}

// The limit plus the simulator's evtchn masking emulation (two epoll_ctl
// calls per event): how much of any gap the simulator's design explains.
void BM_LimitWithMasking(benchmark::State& state) {
  PingPong& pp = *g_masked.at(static_cast<unsigned>(state.threads()));
  const auto ch = static_cast<unsigned>(state.thread_index());
  ProcessCpu cpu(state);
  for (auto _ : state) pp.round_trip(ch);
  count(state, cpu);
}

// Ours: a guest vCPU reading BAR0 STATUS, all the way through Xen's (the
// simulator's) routing, the slot handshake, the event loop and the device.
void BM_Ours_Bar0Read(benchmark::State& state) {
  ServingRig& rig = *g_rigs.at(static_cast<unsigned>(state.threads()));
  const auto vcpu = static_cast<unsigned>(state.thread_index());
  ProcessCpu cpu(state);
  for (auto _ : state)
    benchmark::DoNotOptimize(rig.hv().mmio_read(vcpu, kBar0A + device::regs::kStatus, 4));
  count(state, cpu);
}

// Ours with no device work: an INVALIDATE sent straight to our server. The
// difference to BM_Ours_Bar0Read is routing plus device; to the limit, the
// transport (simulator vCPU protocol, locks, masking, our handshake).
void BM_Ours_Invalidate(benchmark::State& state) {
  ServingRig& rig = *g_rigs.at(static_cast<unsigned>(state.threads()));
  const auto vcpu = static_cast<unsigned>(state.thread_index());
  ioreq_t req = make_request(IOREQ_TYPE_INVALIDATE, IOREQ_WRITE, 0, 4, ~uint64_t{0});
  req.state = STATE_IOREQ_NONE;
  ProcessCpu cpu(state);
  for (auto _ : state) benchmark::DoNotOptimize(rig.hv().issue(vcpu, req, rig.server_id()));
  count(state, cpu);
}

// Interleaved, so that ours and its limit see the same machine load.
BENCHMARK(BM_Limit)->UseRealTime()->Threads(1)->Threads(4);
BENCHMARK(BM_LimitWithMasking)->UseRealTime()->Threads(1)->Threads(4);
BENCHMARK(BM_Ours_Invalidate)->UseRealTime()->Threads(1)->Threads(4);
BENCHMARK(BM_Ours_Bar0Read)->UseRealTime()->Threads(1)->Threads(4);

// Prints the usual table, then req/s per benchmark and the ratios the issue
// asks for. With --benchmark_repetitions, medians are used.
class RatioReporter final : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      const bool median = r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
      if (r.run_type == Run::RT_Aggregate && !median) continue;
      auto it = r.counters.find("req_per_s");
      if (it == r.counters.end()) continue;
      const std::string key = r.run_name.function_name + "/" + std::to_string(r.threads);
      if (median || !medians_.count(key)) {
        rate_[key] = it->second.value;
        auto cpu = r.counters.find("cpu_us_per_req");
        cpu_[key] = cpu == r.counters.end() ? 0 : cpu->second.value;
      }
      if (median) medians_[key] = true;
    }
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    std::printf("\nround trips per second (sum over vCPU threads):\n");
    for (const auto& [key, rate] : rate_)
      std::printf("  %-28s %12.0f req/s %8.2f us CPU/req\n", key.c_str(), rate, cpu_.at(key));
    for (unsigned n : {1u, 4u}) {
      const double ours = get("BM_Ours_Bar0Read/" + std::to_string(n));
      const double limit = get("BM_Limit/" + std::to_string(n));
      if (ours > 0 && limit > 0)
        std::printf("RATIO vcpus=%u ours=%.0f limit=%.0f ours/limit=%.3f\n", n, ours, limit,
                    ours / limit);
      const double ours_cpu = cpu_of("BM_Ours_Bar0Read/" + std::to_string(n));
      const double limit_cpu = cpu_of("BM_Limit/" + std::to_string(n));
      if (ours_cpu > 0 && limit_cpu > 0)
        std::printf("CPU vcpus=%u ours=%.2fus limit=%.2fus limit/ours=%.3f\n", n, ours_cpu,
                    limit_cpu, limit_cpu / ours_cpu);
    }
  }

 private:
  double get(const std::string& key) const {
    auto it = rate_.find(key);
    return it == rate_.end() ? 0 : it->second;
  }
  double cpu_of(const std::string& key) const {
    auto it = cpu_.find(key);
    return it == cpu_.end() ? 0 : it->second;
  }
  std::map<std::string, double> rate_;
  std::map<std::string, double> cpu_;
  std::map<std::string, bool> medians_;
};

}  // namespace
}  // namespace vgpu::bench

int main(int argc, char** argv) {
  using namespace vgpu::bench;
  silence_logging();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  for (unsigned n : {1u, 4u}) {
    g_rigs[n] = std::make_unique<ServingRig>(n);
    g_bare[n] = std::make_unique<PingPong>(n, false);
    g_masked[n] = std::make_unique<PingPong>(n, true);
  }
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  g_rigs.clear();
  return 0;
}
