// The command queue through the whole daemon: a simulated guest boots
// (hvmloader, Linux probe with MSI and bus mastering), then plays a driver
// over BAR0 MMIO exits and its own RAM, against the real event loop, ioreq
// server, device host, mapping cache and CPU backend.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "../support/daemon_thread.h"
#include "vgpu/compute/crc32c.h"
#include "vgpu/device/vgpu_stub.h"
#include "vgpu/pci/regs.h"
#include "vgpu/sim/sim_guest.h"
#include "vgpu/sim/sim_queue_driver.h"

namespace vgpu {
namespace {

using queue::Opcode;
using queue::Status;
using sim::SimQueueDriver;
using testing::DaemonThread;
using testing::kSbdf0005;
namespace r = queue::qregs;
using namespace std::chrono_literals;

Status status_of(const queue::CompletionEntry& c) {
  return static_cast<Status>(c.status_phase >> 1);
}

size_t msis(const sim::SimHypervisor& hv) {
  const auto calls = hv.calls();
  return std::count_if(calls.begin(), calls.end(), [](const sim::SimCall& c) {
    return c.kind == sim::SimCallKind::kInjectMsi;
  });
}

sim::SimConfig config() {
  sim::SimConfig c;
  c.ram_bytes = 256ull << 20;
  c.response_timeout = 5s;
  return c;
}

// Records the queue states the device reports (XenStore's coalescing sits
// above this; guest_flood_test measures it).
class RecordingObserver final : public app::DaemonObserver {
 public:
  void server_enabled(hv::ServerId) override {}
  void bar_changed(unsigned, std::optional<pci::BarMapping>) override {}
  void device_status(std::string_view key, std::string_view value) override {
    if (key != device::kQueueStatusKey) return;
    std::lock_guard l(m);
    states.emplace_back(value);
  }
  std::vector<std::string> seen() {
    std::lock_guard l(m);
    return states;
  }
  std::mutex m;
  std::vector<std::string> states;
};

class QueueSim : public ::testing::Test {
 protected:
  QueueSim()
      : daemon(hv, {kSbdf0005, device::stub_factory({.mem_limit = 64ull << 20})}, &observer) {
    guest.hvmloader_scan();
    probed = guest.linux_probe(kSbdf0005);
  }
  queue::SubmissionEntry E(Opcode op, uint32_t id, std::initializer_list<uint64_t> a = {}) {
    return SimQueueDriver::entry(op, id, a);
  }
  const queue::CommandQueue& q() {
    return dynamic_cast<const device::VgpuStub&>(daemon.daemon().device()).command_queue();
  }

  sim::SimHypervisor hv{config()};
  RecordingObserver observer;
  DaemonThread daemon;
  sim::SimGuest guest{hv, 0};
  sim::ProbedDevice probed;
  sim::GuestBar0Port port{guest, kSbdf0005};
  SimQueueDriver driver{hv.memory(), port};
};

TEST_F(QueueSim, AllocWriteSaxpyCrcReadSessionOverMmioWithOneMsiPerBatch) {
  ASSERT_TRUE(probed.msi_enabled);
  ASSERT_EQ(driver.enable(), queue::kStatusReady);
  EXPECT_EQ(driver.reg(r::kVersion), queue::kQueueVersion);
  EXPECT_EQ(driver.reg64(r::kMemTotal), 64ull << 20);
  constexpr uint64_t kN = 4096;
  std::vector<float> x(kN), y(kN);
  for (uint64_t i = 0; i < kN; ++i) x[i] = static_cast<float>(i) * 0.25f, y[i] = 3.0f;
  ASSERT_TRUE(hv.memory().guest_write(0x300000, std::as_bytes(std::span(x))));
  ASSERT_TRUE(hv.memory().guest_write(0x310000, std::as_bytes(std::span(y))));
  hv.clear_calls();

  // One batch: two ALLOCs. Handles are needed for the next batch.
  driver.put(E(Opcode::kAlloc, 1, {kN * 4}));
  driver.put(E(Opcode::kAlloc, 2, {kN * 4}));
  driver.ring();
  const auto hx = driver.poll(), hy = driver.poll();
  ASSERT_TRUE(hx && hy);
  driver.release();
  EXPECT_EQ(msis(hv), 1u) << "one MSI for the batch";

  const uint64_t lx = driver.write_list_for(0x300000, kN * 4);
  const uint64_t ly =
      driver.write_list(std::vector<std::pair<uint64_t, uint32_t>>{{0x310000, kN * 4}}, 0x121000);
  const uint64_t lo =
      driver.write_list(std::vector<std::pair<uint64_t, uint32_t>>{{0x320000, kN * 4}}, 0x122000);
  driver.put(E(Opcode::kWrite, 3, {hx->result, 0, kN * 4, lx, 4}));
  driver.put(E(Opcode::kWrite, 4, {hy->result, 0, kN * 4, ly, 1}));
  driver.put(E(Opcode::kSaxpy, 5, {hx->result, hy->result, kN, std::bit_cast<uint32_t>(2.0f)}));
  driver.put(E(Opcode::kCrc32c, 6, {hy->result, 0, kN * 4}));
  driver.put(E(Opcode::kRead, 7, {hy->result, 0, kN * 4, lo, 1}));
  driver.ring();
  std::vector<queue::CompletionEntry> done;
  for (int i = 0; i < 5; ++i) {
    auto c = driver.poll();
    ASSERT_TRUE(c) << i;
    EXPECT_EQ(status_of(*c), Status::kSuccess) << c->command_id;
    EXPECT_EQ(c->command_id, 3u + i);
    done.push_back(*c);
  }
  driver.release();
  EXPECT_EQ(msis(hv), 2u);
  std::vector<float> out(kN);
  ASSERT_TRUE(hv.memory().guest_read(0x320000, std::as_writable_bytes(std::span(out))));
  for (uint64_t i = 0; i < kN; ++i) ASSERT_EQ(out[i], 2.0f * x[i] + 3.0f) << i;
  EXPECT_EQ(done[3].result, compute::crc32c_extend(0, std::as_bytes(std::span(out))));
  EXPECT_EQ(q().stats().worker_commands, 0u) << "16 KiB commands all ran inline";
  EXPECT_TRUE(hv.violations().empty()) << hv.violations().front();
}

TEST_F(QueueSim, ALongCopyRunsAfterTheDoorbellIsAnsweredAndRaisesItsOwnMsi) {
  ASSERT_EQ(driver.enable(), queue::kStatusReady);
  const auto h = driver.run(E(Opcode::kAlloc, 1, {32ull << 20}));
  hv.clear_calls();
  driver.put(E(Opcode::kCopy, 2, {h.result, 0, h.result, 1 << 20, 31ull << 20}));
  driver.put(E(Opcode::kPing, 3, {1}));
  driver.ring();
  auto copy = driver.poll(10s), ping = driver.poll(10s);
  ASSERT_TRUE(copy && ping);
  EXPECT_EQ(status_of(*copy), Status::kSuccess);
  EXPECT_EQ(ping->command_id, 3u);
  EXPECT_EQ(q().stats().worker_commands, 2u) << "the COPY and the PING behind it";
  for (auto until = std::chrono::steady_clock::now() + 2s;
       msis(hv) == 0 && std::chrono::steady_clock::now() < until;)
    std::this_thread::sleep_for(1ms);
  EXPECT_GE(msis(hv), 1u) << "raised by the loop for the worker";
  EXPECT_TRUE(hv.violations().empty()) << hv.violations().front();
}

TEST_F(QueueSim, InvalidateFromXenDropsEveryMappingAndTheQueueGoesOn) {
  ASSERT_EQ(driver.enable(), queue::kStatusReady);
  const auto h = driver.run(E(Opcode::kAlloc, 1, {8ull << 20}));
  const uint64_t list = driver.write_list_for(0x1000000, 8ull << 20, 1 << 20);
  driver.put(E(Opcode::kWrite, 2, {h.result, 0, 8ull << 20, list, 8}));
  driver.ring();
  hv.broadcast_invalidate(0);  // mid-stream or after: either way answered, all dropped
  auto w = driver.poll(10s);
  ASSERT_TRUE(w);
  EXPECT_EQ(status_of(*w), Status::kSuccess);
  driver.release();
  EXPECT_EQ(daemon.daemon().dispatcher().stats().invalidations, 1u);
  EXPECT_GE(daemon.daemon().dma().stats().invalidations, 1u);
  EXPECT_EQ(driver.run(E(Opcode::kPing, 3, {0})).result, ~0ull) << "rings mapped again";
  EXPECT_TRUE(hv.memory().misuse().empty());
  EXPECT_TRUE(hv.violations().empty()) << hv.violations().front();
}

TEST_F(QueueSim, ClearingBusMasterThroughConfigSpaceIsFatal5) {
  ASSERT_EQ(driver.enable(), queue::kStatusReady);
  const auto cmd = guest.config_read(kSbdf0005, pci::kCommand, 2);
  guest.config_write(kSbdf0005, pci::kCommand, 2, cmd & ~pci::kCommandBusMaster);
  EXPECT_EQ(driver.status(), queue::kStatusFatal | 5u << queue::kFatalReasonShift);
  driver.put(E(Opcode::kNop, 1));
  driver.ring();
  EXPECT_FALSE(driver.poll(50ms)) << "a FATAL queue touches no ring";
}

TEST_F(QueueSim, EveryQueueStateChangeIsReportedOnceAndOnlyOnChange) {
  {
    std::lock_guard l(observer.m);
    observer.states.clear();
  }
  for (int i = 0; i < 20; ++i) {  // a guest toggling ENABLE as fast as it can
    driver.enable();
    driver.disable();
  }
  driver.enable();
  driver.enable();  // no change: not reported again
  const auto seen = observer.seen();
  ASSERT_EQ(seen.size(), 41u);
  for (size_t i = 0; i < seen.size(); ++i)
    EXPECT_EQ(seen[i], i % 2 == 0 ? "ready" : "disabled") << i;
}

TEST_F(QueueSim, TeardownWithALongCommandRunningFreesAndUnmapsEverything) {
  ASSERT_EQ(driver.enable(), queue::kStatusReady);
  const auto h = driver.run(E(Opcode::kAlloc, 1, {48ull << 20}));
  driver.put(E(Opcode::kFill, 2, {h.result, 0, 48ull << 20, 7}));
  driver.ring();
  daemon.stop();
  EXPECT_EQ(hv.memory().live_mappings(), 0u);
  EXPECT_EQ(hv.memory().map_calls(), hv.memory().unmap_calls());
  EXPECT_TRUE(hv.memory().misuse().empty());
  EXPECT_TRUE(hv.violations().empty()) << hv.violations().front();
}

}  // namespace
}  // namespace vgpu
