// Work a guest can trigger at will is bounded: a guest toggling decoding or
// its command queue in a tight loop, or one whose MSI injections fail, costs
// Dom0 a bounded number of log lines and XenStore writes. Each test fails without its limit
// (thousands of lines or writes instead of a few).
#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>

#include "../support/log_capture.h"
#include "../support/served_daemon.h"
#include "vgpu/app/backend_state.h"
#include "vgpu/device/registers.h"
#include "vgpu/device/vgpu_stub.h"
#include "vgpu/pci/regs.h"
#include "vgpu/queue/protocol.h"
#include "vgpu/sim/sim_guest.h"
#include "vgpu/sim/sim_queue_driver.h"

namespace vgpu {
namespace {

using testing::LogCapture;
using testing::ServedDaemon;

const pci::Sbdf kSbdf{0, 0, 5, 0};
constexpr uint16_t kDomid = 11;
constexpr unsigned kToggles = 2000;
// RateLimitedLog's defaults and the Daemon's BAR placement limit.
constexpr unsigned kBarLinesPerWindow = 20;
constexpr unsigned kErrorLinesPerSecond = 10;

app::Options options() {
  app::Options o;
  o.domid = kDomid;
  o.sbdf = kSbdf;
  return o;
}

sim::SimConfig one_vcpu() {
  sim::SimConfig c;
  c.domid = kDomid;
  c.response_timeout = std::chrono::milliseconds(2000);
  return c;
}

class GuestFlood : public ::testing::Test {
 protected:
  LogCapture log;  // first: it must outlive the daemon, whose teardown logs
  sim::SimHypervisor hv{one_vcpu()};
  xenstore::FakeStore store;
  ServedDaemon daemon{hv, store, options(), app::stub_device(options())};
  sim::SimGuest guest{hv, 0};
};

TEST_F(GuestFlood, DecodeTogglingIsRateLimitedInTheLogAndCoalescedInXenStore) {
  ASSERT_TRUE(daemon.wait_connected());
  guest.hvmloader_scan();
  const uint32_t bar0 = guest.config_read(kSbdf, pci::kBar0, 4) & ~pci::kBarMemFlagsMask;
  const auto cmd = guest.config_read(kSbdf, pci::kCommand, 2);
  const unsigned writes_before = daemon.changes_of("bar0");

  const auto t0 = std::chrono::steady_clock::now();
  for (unsigned i = 0; i < kToggles; ++i) {
    guest.config_write(kSbdf, pci::kCommand, 2, cmd & ~pci::kCommandMemorySpace);
    guest.config_write(kSbdf, pci::kCommand, 2, cmd);
  }
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  std::this_thread::sleep_for(app::BackendState::kBarUpdateInterval * 3);

  // XenStore: at most one write per interval (plus the first), and the last
  // value is the truth.
  const auto intervals = static_cast<unsigned>(elapsed / app::BackendState::kBarUpdateInterval) + 2;
  const unsigned writes = daemon.changes_of("bar0") - writes_before;
  EXPECT_LE(writes, intervals) << "over " << elapsed.count() / 1'000'000 << " ms";
  EXPECT_GE(writes, 1u);
  EXPECT_EQ(daemon.backend_key("bar0"), fmt::format("{:#x}", bar0));
  // The claims still follow every toggle: BAR0 answers.
  EXPECT_EQ(guest.bar0_read(kSbdf, device::regs::kStatus, 4), 0u);

  // The log: a window's worth of lines, not 2 * kToggles.
  const auto windows = static_cast<unsigned>(elapsed / std::chrono::seconds(10)) + 1;
  EXPECT_LE(log.count("BAR0"), kBarLinesPerWindow * windows + 1);
  EXPECT_EQ(daemon.stop(), app::kExitOk);
  EXPECT_EQ(log.count("BAR placement lines: "), 1u) << "the summary says how many were dropped";
}

TEST_F(GuestFlood, QueueEnableTogglingIsCoalescedInXenStore) {
  ASSERT_TRUE(daemon.wait_connected());
  guest.hvmloader_scan();
  ASSERT_TRUE(guest.linux_probe(kSbdf).msi_enabled);
  sim::GuestBar0Port port{guest, kSbdf};
  sim::SimQueueDriver driver{hv.memory(), port};
  const unsigned writes_before = daemon.changes_of(device::kQueueStatusKey);

  constexpr unsigned kQueueToggles = 500;
  const auto t0 = std::chrono::steady_clock::now();
  for (unsigned i = 0; i < kQueueToggles; ++i) {
    ASSERT_EQ(driver.enable(), queue::kStatusReady);
    driver.disable();
  }
  ASSERT_EQ(driver.enable(), queue::kStatusReady);
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  std::this_thread::sleep_for(app::BackendState::kBarUpdateInterval * 3);

  // 1001 state changes; XenStore sees one write per interval at most, and
  // the last one is the state the queue is in.
  const auto intervals = static_cast<unsigned>(elapsed / app::BackendState::kBarUpdateInterval) + 2;
  const unsigned writes = daemon.changes_of(device::kQueueStatusKey) - writes_before;
  EXPECT_LE(writes, intervals) << "over " << elapsed.count() / 1'000'000 << " ms";
  EXPECT_LT(writes, 2 * kQueueToggles);
  EXPECT_EQ(daemon.backend_key(device::kQueueStatusKey), "ready");
  EXPECT_EQ(daemon.stop(), app::kExitOk);
}

TEST_F(GuestFlood, FailingMsiInjectionIsRateLimited) {
  ASSERT_TRUE(daemon.wait_connected());
  guest.hvmloader_scan();
  ASSERT_TRUE(guest.linux_probe(kSbdf).msi_enabled);
  hv.fail_msi_injection(EINVAL);
  constexpr unsigned kPings = 1000;
  const auto t0 = std::chrono::steady_clock::now();
  for (unsigned i = 0; i < kPings; ++i)
    guest.bar0_write(kSbdf, device::regs::kCommand, 4,
                     static_cast<uint32_t>(device::Command::kPing));
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - t0);
  EXPECT_GE(log.count("injecting MSI"), 1u);
  EXPECT_LE(log.count("injecting MSI"),
            kErrorLinesPerSecond * static_cast<unsigned>(seconds.count() + 1));
  EXPECT_EQ(daemon.stop(), app::kExitOk);
  EXPECT_EQ(log.count("MSI injection failures: "), 1u);
}

}  // namespace
}  // namespace vgpu
