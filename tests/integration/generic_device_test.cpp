// The host layer, claims, transport and XenStore are generic over
// pci::PciDevice: a second device type with two BARs, one of them 64-bit,
// is served through app::serve() against the simulator, and nothing outside
// its own file (tests/support/two_bar_device.h) had to know about it.
#include <gtest/gtest.h>

#include <algorithm>

#include "../support/served_daemon.h"
#include "../support/two_bar_device.h"
#include "vgpu/app/backend_state.h"
#include "vgpu/pci/regs.h"
#include "vgpu/sim/sim_guest.h"

namespace vgpu {
namespace {

using testing::ServedDaemon;
using testing::TwoBarDevice;

const pci::Sbdf kSbdf{0, 0, 5, 0};
constexpr uint16_t kDomid = 9;

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

app::DeviceSpec two_bar_device() {
  return app::DeviceSpec{TwoBarDevice::identity_value(), TwoBarDevice::factory(), {}, {}};
}

// Claimed MMIO ranges of the only server, sorted by address.
std::vector<hv::MmioRange> claimed(sim::SimHypervisor& hv) {
  const auto servers = hv.servers();
  return servers.size() == 1 ? hv.mmio_ranges(servers.front()) : std::vector<hv::MmioRange>{};
}

hv::MmioRange range(uint64_t base, uint64_t size) {
  return {base, base + size - 1};
}

class GenericDevice : public ::testing::Test {
 protected:
  sim::SimHypervisor hv{one_vcpu()};
  xenstore::FakeStore store;
  ServedDaemon daemon{hv, store, options(), two_bar_device()};
  sim::SimGuest guest{hv, 0};
};

TEST_F(GenericDevice, FirmwareAndLinuxSeeBothBarsWithTheirTypes) {
  ASSERT_TRUE(daemon.wait_connected());
  const auto scanned = guest.hvmloader_scan();
  ASSERT_EQ(scanned.size(), 1u);
  EXPECT_EQ(scanned[0].device_id, 0x2222);
  const sim::ProbedDevice dev = guest.linux_probe(kSbdf);
  ASSERT_EQ(dev.bars.size(), 2u);
  EXPECT_EQ(dev.bars[0].index, TwoBarDevice::kSmallBar);
  EXPECT_EQ(dev.bars[0].size, TwoBarDevice::kSmallSize);
  EXPECT_FALSE(dev.bars[0].is_64bit);
  EXPECT_EQ(dev.bars[1].index, TwoBarDevice::kLargeBar);
  EXPECT_EQ(dev.bars[1].size, TwoBarDevice::kLargeSize);
  EXPECT_TRUE(dev.bars[1].is_64bit);
  EXPECT_TRUE(dev.bars[1].prefetchable);
  EXPECT_NE(guest.lspci_nnv(kSbdf).find("(64-bit, prefetchable) [size=1M]"), std::string::npos)
      << guest.lspci_nnv(kSbdf);
  EXPECT_TRUE(hv.violations().empty());
}

TEST_F(GenericDevice, EachDecodingBarIsClaimedAndPublished) {
  ASSERT_TRUE(daemon.wait_connected());
  guest.hvmloader_scan();
  const uint64_t small = guest.config_read(kSbdf, pci::bar_offset(0), 4) & ~pci::kBarMemFlagsMask;
  const uint64_t large = guest.config_read(kSbdf, pci::bar_offset(2), 4) & ~pci::kBarMemFlagsMask;
  auto want =
      std::vector{range(small, TwoBarDevice::kSmallSize), range(large, TwoBarDevice::kLargeSize)};
  std::sort(want.begin(), want.end(), [](auto& a, auto& b) { return a.first < b.first; });
  EXPECT_EQ(claimed(hv), want);

  std::this_thread::sleep_for(app::BackendState::kBarUpdateInterval * 2);  // coalesced writes land
  EXPECT_EQ(daemon.backend_key("device-id"), "0x2222");
  EXPECT_EQ(daemon.backend_key("bar0-size"), "4096");
  EXPECT_EQ(daemon.backend_key("bar2-size"), "1048576");
  EXPECT_EQ(daemon.backend_key("bar0"), fmt::format("{:#x}", small));
  EXPECT_EQ(daemon.backend_key("bar2"), fmt::format("{:#x}", large));
  EXPECT_EQ(daemon.backend_key("bar1"), "<absent>");
  EXPECT_EQ(daemon.backend_key("bar3"), "<absent>");
}

TEST_F(GenericDevice, AccessesReachTheRightBarAtTheRightOffset) {
  ASSERT_TRUE(daemon.wait_connected());
  guest.hvmloader_scan();
  guest.bar_write(kSbdf, TwoBarDevice::kLargeBar, 0xFFFF8, 8, 0x1122334455667788ull);
  guest.bar_write(kSbdf, TwoBarDevice::kSmallBar, 0x10, 4, 0xCAFE);
  EXPECT_EQ(guest.bar_read(kSbdf, TwoBarDevice::kLargeBar, 0xFFFF8, 8), 0x1122334455667788ull);
  EXPECT_EQ(guest.bar_read(kSbdf, TwoBarDevice::kLargeBar, 0x10, 4), 0u);  // not BAR0's bytes
  EXPECT_EQ(guest.bar_read(kSbdf, TwoBarDevice::kSmallBar, 0x10, 4), 0xCAFEu);
  EXPECT_TRUE(hv.violations().empty());
}

TEST_F(GenericDevice, A64BitBarMovesAbove4GiBAsOneRange) {
  ASSERT_TRUE(daemon.wait_connected());
  guest.hvmloader_scan();
  const uint32_t lo = pci::bar_offset(TwoBarDevice::kLargeBar);
  const auto cmd = guest.config_read(kSbdf, pci::kCommand, 2);
  // As Linux moves a 64-bit BAR: decoding off, both halves, decoding on.
  guest.config_write(kSbdf, pci::kCommand, 2, cmd & ~pci::kCommandMemorySpace);
  EXPECT_TRUE(claimed(hv).empty());
  constexpr uint64_t kHigh = 0x4'0000'0000;
  guest.config_write(kSbdf, lo, 4, static_cast<uint32_t>(kHigh));
  guest.config_write(kSbdf, lo + 4, 4, static_cast<uint32_t>(kHigh >> 32));
  guest.config_write(kSbdf, pci::kCommand, 2, cmd);
  const auto ranges = claimed(hv);
  EXPECT_NE(std::find(ranges.begin(), ranges.end(), range(kHigh, TwoBarDevice::kLargeSize)),
            ranges.end());
  guest.bar_write(kSbdf, TwoBarDevice::kLargeBar, 8, 4, 0xABCD);
  EXPECT_EQ(hv.mmio_read(0, kHigh + 8, 4), 0xABCDu);
}

TEST_F(GenericDevice, MsiFromTheNewDeviceReachesTheHypervisor) {
  ASSERT_TRUE(daemon.wait_connected());
  guest.hvmloader_scan();
  const sim::ProbedDevice dev = guest.linux_probe(kSbdf);  // enables MSI
  ASSERT_TRUE(dev.msi_enabled);
  hv.clear_calls();
  guest.bar_write(kSbdf, TwoBarDevice::kSmallBar, TwoBarDevice::kDoorbell, 4, 1);
  const auto calls = hv.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].kind, sim::SimCallKind::kInjectMsi);
  EXPECT_EQ(calls[0].msi_address, sim::SimGuest::kMsiAddress);
}

TEST_F(GenericDevice, StopsCleanly) {
  ASSERT_TRUE(daemon.wait_connected());
  guest.hvmloader_scan();
  EXPECT_EQ(daemon.stop(), app::kExitOk);
}

}  // namespace
}  // namespace vgpu
