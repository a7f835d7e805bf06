// Restart under a running guest (docs/spec.md §12), timed in the simulator:
// a daemon serves a guest that has probed the device, enabled the queue and
// filled 1 MiB of device memory; it stops answering, a vCPU's PING waits in
// its slot, and the process dies as kill -9 leaves things. Timed from the
// start of the next daemon's Daemon::start (a new process's hypervisor
// view, take-over of the server, event channels bound again, device state
// restored from the state file) to the waiting PING answered: what the
// guest sees as the pause, less the exec and option parsing that the
// startup probe measures separately ("exec -> serving").
//
//   vgpu_bench_restart [--runs N]      (default 20; prints the median)
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "daemon_thread.h"
#include "rig.h"
#include "sim_process.h"
#include "vgpu/app/state_file.h"
#include "vgpu/device/registers.h"
#include "vgpu/device/vgpu_stub.h"
#include "vgpu/sim/sim_guest.h"
#include "vgpu/sim/sim_queue_driver.h"

namespace vgpu::bench {
namespace {

using Clock = std::chrono::steady_clock;
using queue::Opcode;
using sim::SimQueueDriver;
namespace regs = device::regs;
const pci::Sbdf kSbdf{0, 0, 5, 0};

struct Run {
  double pause_ms = 0;  // Daemon::start of the next daemon -> pending PING answered
  double start_ms = 0;  // of which Daemon::start itself
  bool right = false;   // the PING came back with its request id
};

Run one_restart(int dir_fd, int memory_fd) {
  sim::SimConfig sc;
  sc.ram_bytes = 32ull << 20;
  sc.response_timeout = std::chrono::seconds(20);
  sim::SimHypervisor hv(sc);
  auto state = app::StateFile::open(dir_fd, "bench.state");
  if (!state) std::abort();
  (*state)->reset({hv.domid(), kSbdf, hv.domain_info()->handle});
  if (::ftruncate(memory_fd, 0) != 0) std::abort();
  const device::StubConfig stub{.mem_limit = 16ull << 20, .memory_fd = memory_fd};
  app::DaemonConfig config{kSbdf, device::stub_factory(stub), std::nullopt, state->get()};

  auto process = std::make_unique<testing::SimProcess>(hv);
  auto first = std::make_unique<testing::DaemonThread>(*process, config);
  const hv::ServerId id = first->daemon().server_id();
  (*state)->set_server(id);
  sim::SimGuest guest(hv, 0);
  guest.hvmloader_scan();
  guest.linux_probe(kSbdf);
  sim::GuestBar0Port port(guest, kSbdf);
  SimQueueDriver driver(hv.memory(), port);
  driver.enable();
  const uint64_t h = driver.run(SimQueueDriver::entry(Opcode::kAlloc, 1, {1u << 20})).result;
  driver.run(SimQueueDriver::entry(Opcode::kFill, 2, {h, 0, 1u << 20, 0x12345678}));

  first->pause();
  std::promise<uint32_t> answer;
  std::thread vcpu([&] {
    sim::SimGuest g(hv, 0);
    g.bar0_write(kSbdf, regs::kRequestId, 4, 99);
    g.bar0_write(kSbdf, regs::kCommand, 4, static_cast<uint32_t>(device::Command::kPing));
    answer.set_value(static_cast<uint32_t>(g.bar0_read(kSbdf, regs::kPingRequestIdOffset, 4)));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  first->abandon();
  first.reset();
  process.reset();

  Run r;
  config.resume = app::Resume{id, [&state] { return (*state)->load(); }};
  const auto t0 = Clock::now();
  testing::SimProcess second_process(hv);
  testing::DaemonThread second(second_process, config);
  const auto t1 = Clock::now();
  auto f = answer.get_future();
  r.right = f.get() == 99;
  const auto t2 = Clock::now();
  vcpu.join();
  r.start_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  r.pause_ms = std::chrono::duration<double, std::milli>(t2 - t0).count();
  second.stop();
  return r;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace
}  // namespace vgpu::bench

int main(int argc, char** argv) {
  using namespace vgpu::bench;
  int runs = 20;
  if (argc > 2 && std::string(argv[1]) == "--runs") runs = std::max(1, std::atoi(argv[2]));
  silence_logging();
  char tmpl[] = "/tmp/vgpu-restart-bench-XXXXXX";
  const char* dir = ::mkdtemp(tmpl);
  if (dir == nullptr) return 1;
  const int dir_fd = ::open(dir, O_DIRECTORY | O_CLOEXEC);
  const int memory_fd = ::openat(dir_fd, "bench.mem", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  std::vector<double> pause, start;
  int wrong = 0;
  for (int i = 0; i < runs; ++i) {
    const Run r = one_restart(dir_fd, memory_fd);
    pause.push_back(r.pause_ms);
    start.push_back(r.start_ms);
    wrong += r.right ? 0 : 1;
  }
  std::printf(
      "RESTART runs=%d take-over to pending PING answered: median %.3f ms (min %.3f, max %.3f); "
      "Daemon::start median %.3f ms; wrong answers %d\n",
      runs, median(pause), *std::min_element(pause.begin(), pause.end()),
      *std::max_element(pause.begin(), pause.end()), median(start), wrong);
  ::close(memory_fd);
  ::unlinkat(dir_fd, "bench.mem", 0);
  ::unlinkat(dir_fd, "bench.state", 0);
  ::close(dir_fd);
  ::rmdir(dir);
  return wrong == 0 ? 0 : 1;
}
