// The command queue's numbers (issue: Step 2, device side), each a ratio or
// a count measured side by side in one run, through the real daemon (event
// loop, ioreq server, device host, queue, mapping cache, CPU backend)
// against the simulated hypervisor, with SimQueueDriver as the guest:
//
//   RATE   commands per second: register PING (write COMMAND, read STATUS)
//          against NOPs through the ring at batch 1 and batch 64 per doorbell
//   COPY   WRITE then READ of 64 MiB through 4 KiB scatter entries, against
//          memcpy of the same bytes in the same process
//   MAPS   map calls per command, counted exactly
//
//   vgpu_bench_queue [--quick]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "daemon_thread.h"
#include "rig.h"
#include "vgpu/device/registers.h"
#include "vgpu/device/vgpu_stub.h"
#include "vgpu/pci/regs.h"
#include "vgpu/sim/sim_guest.h"
#include "vgpu/sim/sim_queue_driver.h"

namespace vgpu::bench {
namespace {

using Clock = std::chrono::steady_clock;
using queue::Opcode;
using sim::SimQueueDriver;
namespace regs = device::regs;

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kCopyBytes = 64 * kMiB;
constexpr uint64_t kPerCommand = 4 * kMiB;  // 1024 entries of 4 KiB: the list limit
constexpr uint64_t kSrc = 0x1000000;        // guest buffers
constexpr uint64_t kDst = kSrc + kCopyBytes;
constexpr uint64_t kLists = 0x800000;  // 16 scatter lists of 16 KiB

sim::SimConfig sim_config() {
  sim::SimConfig c;
  c.ram_bytes = 192 * kMiB;
  c.response_timeout = std::chrono::seconds(20);
  return c;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

SimQueueDriver::Clock::duration kPoll = std::chrono::seconds(20);

struct Rig {
  Rig()
      : hv(sim_config()),
        daemon(hv, {kSbdf, device::stub_factory({.mem_limit = 256 * kMiB})}),
        guest(hv, 0) {
    guest.config_write(kSbdf, pci::kBar0, 4, static_cast<uint32_t>(kBar0A));
    guest.config_write(kSbdf, pci::kCommand, 2, pci::kCommandMemorySpace | pci::kCommandBusMaster);
    if (driver.enable() != queue::kStatusReady) throw std::runtime_error("queue not READY");
  }
  void poll_n(unsigned n) {
    for (unsigned i = 0; i < n; ++i) {
      auto c = driver.poll(std::chrono::duration_cast<std::chrono::milliseconds>(kPoll));
      if (!c || (c->status_phase >> 1) != 0) throw std::runtime_error("command failed");
    }
    driver.release();
  }
  uint64_t maps() { return hv.memory().map_calls(); }

  sim::SimHypervisor hv;
  testing::DaemonThread daemon;
  sim::SimGuest guest;
  sim::GuestBar0Port port{guest, kSbdf};
  // 128-entry rings: a batch of 64 fits (a ring of N holds N - 1).
  SimQueueDriver driver{hv.memory(), port, layout()};

  static sim::DriverLayout layout() {
    sim::DriverLayout l;
    l.sq_entries = l.cq_entries = 128;
    return l;
  }
};

// ---- RATE ---------------------------------------------------------------

double register_pings(Rig& rig, double secs) {
  uint64_t n = 0;
  const auto t0 = Clock::now();
  while (seconds_since(t0) < secs) {
    for (int i = 0; i < 16; ++i) {
      rig.guest.bar0_write(kSbdf, regs::kCommand, 4, static_cast<uint32_t>(device::Command::kPing));
      if (rig.guest.bar0_read(kSbdf, regs::kStatus, 4) != 2) throw std::runtime_error("PING");
    }
    n += 16;
  }
  return static_cast<double>(n) / seconds_since(t0);
}

double ring_nops(Rig& rig, unsigned batch, double secs) {
  uint64_t n = 0;
  const auto t0 = Clock::now();
  while (seconds_since(t0) < secs) {
    for (unsigned i = 0; i < batch; ++i) rig.driver.put(SimQueueDriver::entry(Opcode::kNop, i));
    rig.driver.ring();
    rig.poll_n(batch);
    n += batch;
  }
  return static_cast<double>(n) / seconds_since(t0);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void rate(Rig& rig, int rounds, double secs) {
  std::vector<double> reg, b1, b64;
  for (int r = 0; r < rounds; ++r) {  // interleaved: the same machine load for all three
    reg.push_back(register_pings(rig, secs));
    b1.push_back(ring_nops(rig, 1, secs));
    b64.push_back(ring_nops(rig, 64, secs));
  }
  const double mr = median(reg), m1 = median(b1), m64 = median(b64);
  std::printf(
      "RATE register_ping=%.0f/s nop_batch1=%.0f/s nop_batch64=%.0f/s "
      "batch64/register=%.1fx (target >= 20x: %s) batch1/register=%.2fx [median of %d "
      "rounds of %.1fs]\n",
      mr, m1, m64, m64 / mr, m64 / mr >= 20 ? "met" : "NOT met", m1 / mr, rounds, secs);
}

// ---- COPY and MAPS --------------------------------------------------------

void write_lists(Rig& rig, uint64_t data, uint64_t list_base) {
  for (uint64_t c = 0; c < kCopyBytes / kPerCommand; ++c) {
    std::vector<std::pair<uint64_t, uint32_t>> entries;
    for (uint64_t off = 0; off < kPerCommand; off += 4096)
      entries.emplace_back(data + c * kPerCommand + off, 4096);
    rig.driver.write_list(entries, list_base + c * 16 * 1024);
  }
}

// 16 commands of 4 MiB (one doorbell), WRITE from kSrc or READ into kDst.
void transfer(Rig& rig, Opcode op, uint64_t handle, uint64_t list_base) {
  constexpr uint64_t kCommands = kCopyBytes / kPerCommand;
  for (uint64_t c = 0; c < kCommands; ++c)
    rig.driver.put(SimQueueDriver::entry(
        op, static_cast<uint32_t>(c),
        {handle, c * kPerCommand, kPerCommand, list_base + c * 16 * 1024, kPerCommand / 4096}));
  rig.driver.ring();
  rig.poll_n(kCommands);
}

void copy_and_maps(Rig& rig, int rounds) {
  std::byte* src = rig.hv.memory().guest_pointer(kSrc, kCopyBytes);
  std::byte* dst = rig.hv.memory().guest_pointer(kDst, kCopyBytes);
  for (uint64_t i = 0; i < kCopyBytes; i += 64) src[i] = std::byte(i >> 12);
  std::memset(dst, 0, kCopyBytes);
  const uint64_t h = rig.driver.run(SimQueueDriver::entry(Opcode::kAlloc, 1, {kCopyBytes})).result;
  write_lists(rig, kSrc, kLists);
  write_lists(rig, kDst, kLists + kCopyBytes / kPerCommand * 16 * 1024);
  const uint64_t out_lists = kLists + kCopyBytes / kPerCommand * 16 * 1024;

  // MAPS, cold then warm, counted on the simulated foreign-mapping calls.
  uint64_t m0 = rig.maps();
  for (int i = 0; i < 1000; ++i) rig.driver.run(SimQueueDriver::entry(Opcode::kNop, i));
  for (int i = 0; i < 1000; ++i) rig.driver.run(SimQueueDriver::entry(Opcode::kPing, i, {1}));
  const uint64_t nop_maps = rig.maps() - m0;
  m0 = rig.maps();
  transfer(rig, Opcode::kWrite, h, kLists);
  const uint64_t cold_write = rig.maps() - m0;
  m0 = rig.maps();
  transfer(rig, Opcode::kRead, h, out_lists);
  const uint64_t cold_read = rig.maps() - m0;
  m0 = rig.maps();
  transfer(rig, Opcode::kWrite, h, kLists);
  transfer(rig, Opcode::kRead, h, out_lists);
  const uint64_t warm = rig.maps() - m0;
  if (std::memcmp(src, dst, kCopyBytes) != 0) throw std::runtime_error("data differs");
  std::printf(
      "MAPS nop+ping=%llu per 2000 commands; cold WRITE 64 MiB (16 commands, lists "
      "and data new)=%llu -> %.2f per MiB (target <= 1); cold READ=%llu -> %.2f per MiB; "
      "warm WRITE+READ=%llu (target 0)\n",
      static_cast<unsigned long long>(nop_maps), static_cast<unsigned long long>(cold_write),
      cold_write / 64.0, static_cast<unsigned long long>(cold_read), cold_read / 64.0,
      static_cast<unsigned long long>(warm));

  std::vector<double> ours, base;
  std::vector<std::byte> a(kCopyBytes, std::byte{1}), b(kCopyBytes, std::byte{2});
  for (int r = 0; r < rounds; ++r) {
    auto t0 = Clock::now();
    transfer(rig, Opcode::kWrite, h, kLists);
    transfer(rig, Opcode::kRead, h, out_lists);
    ours.push_back(2.0 * kCopyBytes / seconds_since(t0));
    t0 = Clock::now();
    std::memcpy(a.data(), src, kCopyBytes);  // the same bytes, guest -> "device"
    std::memcpy(dst, b.data(), kCopyBytes);  // and back
    base.push_back(2.0 * kCopyBytes / seconds_since(t0));
  }
  const double o = median(ours), m = median(base);
  std::printf(
      "COPY write+read 64 MiB in 4 KiB entries: ours=%.2f GB/s memcpy=%.2f GB/s "
      "ratio=%.2f (target >= 0.5: %s) [median of %d rounds]\n",
      o / 1e9, m / 1e9, o / m, o / m >= 0.5 ? "met" : "NOT met", rounds);
}

}  // namespace
}  // namespace vgpu::bench

int main(int argc, char** argv) {
  using namespace vgpu::bench;
  const bool quick = argc > 1 && std::string(argv[1]) == "--quick";
  silence_logging();
  Rig rig;
  rate(rig, quick ? 3 : 7, quick ? 0.2 : 0.5);
  copy_and_maps(rig, quick ? 3 : 7);
  const auto qs = dynamic_cast<const vgpu::device::VgpuStub&>(rig.daemon.daemon().device())
                      .command_queue()
                      .stats();
  std::printf("QUEUE inline=%llu worker=%llu completions=%llu interrupts=%llu\n",
              static_cast<unsigned long long>(qs.inline_commands),
              static_cast<unsigned long long>(qs.worker_commands),
              static_cast<unsigned long long>(qs.completions),
              static_cast<unsigned long long>(qs.interrupts));
  return 0;
}
