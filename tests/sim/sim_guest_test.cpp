// hvmloader's scan, Linux's probe and lspci, run against the test
// responder's fake vGPU stub; and the lspci formatter on its own.
#include "vgpu/sim/sim_guest.h"

#include <gtest/gtest.h>

#include "test_responder.h"
#include "vgpu/pci/regs.h"
#include "vgpu/sim/lspci_format.h"

namespace vgpu::sim {
namespace {

using testing::TestResponder;

constexpr pci::Sbdf kDev{0, 0, 5, 0};

TEST(SimGuest, HvmloaderFindsThePlacesBar0AndEnablesDecode) {
  SimHypervisor hv;
  TestResponder r(hv, kDev);
  hv.clear_calls();
  SimGuest guest(hv);
  const auto devices = guest.hvmloader_scan();
  ASSERT_EQ(devices.size(), 1u);
  const ScannedDevice& d = devices[0];
  EXPECT_EQ(d.sbdf, kDev);
  EXPECT_EQ(d.vendor_id, 0x1af4);
  EXPECT_EQ(d.device_id, 0x1111);
  EXPECT_EQ(d.class_code, 0x1200);
  ASSERT_EQ(d.bars.size(), 1u);
  EXPECT_EQ(d.bars[0].address, 0xF0000000u);
  EXPECT_EQ(d.bars[0].size, 4096u);
  EXPECT_EQ(d.command, pci::kCommandMemorySpace | pci::kCommandBusMaster);
  EXPECT_EQ(d.interrupt_line, 0xFF);  // no pin: left alone
  // Only the final address was ever claimed, once decode came on.
  const auto calls = hv.calls();
  ASSERT_EQ(calls.size(), 1u) << calls[0].to_string();
  EXPECT_EQ(calls[0].to_string(), "map_mmio(server 0, [0xf0000000, 0xf0000fff])");
  EXPECT_TRUE(hv.violations().empty());
}

TEST(SimGuest, LinuxProbeSizesBarsWalksCapabilitiesAndEnablesMsi) {
  SimHypervisor hv;
  TestResponder r(hv, kDev);
  SimGuest guest(hv);
  (void)guest.hvmloader_scan();
  const ProbedDevice d = guest.linux_probe(kDev);
  EXPECT_EQ(d.vendor_id, 0x1af4);
  EXPECT_EQ(d.device_id, 0x1111);
  EXPECT_EQ(d.revision, 1);
  EXPECT_EQ(d.class_code, 0x120000u);
  EXPECT_EQ(d.subsystem_vendor_id, 0x1af4);
  EXPECT_EQ(d.subsystem_id, 0x1111);
  ASSERT_EQ(d.bars.size(), 1u);
  EXPECT_EQ(d.bars[0], (BarInfo{0, 0xF0000000, 4096, false, false, false}));
  EXPECT_EQ(d.capabilities, (std::vector<Capability>{{0x40, pci::kCapIdMsi}}));
  EXPECT_EQ(d.capability_error, "");
  EXPECT_TRUE(d.msi_enabled);
  EXPECT_EQ(d.msi_address, SimGuest::kMsiAddress);
  EXPECT_EQ(d.msi_data, SimGuest::kMsiData);
  EXPECT_EQ(d.command,
            pci::kCommandMemorySpace | pci::kCommandBusMaster | pci::kCommandIntxDisable);
  // Sizing turned decode off and on: the claim was dropped and taken back.
  EXPECT_EQ(hv.mmio_ranges(r.id()), (std::vector<hv::MmioRange>{{0xF0000000, 0xF0000FFF}}));
  EXPECT_TRUE(hv.violations().empty());
}

TEST(SimGuest, LspciMatchesRealOutput) {
  SimHypervisor hv;
  TestResponder r(hv, kDev);
  SimGuest guest(hv);
  (void)guest.hvmloader_scan();
  (void)guest.linux_probe(kDev);
  EXPECT_EQ(guest.lspci_nnv(kDev),
            "00:05.0 Processing accelerators [1200]: Red Hat, Inc. Device [1af4:1111] (rev 01)\n"
            "\tSubsystem: Red Hat, Inc. Device [1af4:1111]\n"
            "\tFlags: bus master, fast devsel, latency 0\n"
            "\tMemory at f0000000 (32-bit, non-prefetchable) [size=4K]\n"
            "\tCapabilities: [40] MSI: Enable+ Count=1/1 Maskable+ 64bit+\n");
}

TEST(SimGuest, Bar0MmioReachesTheServer) {
  SimHypervisor hv;
  TestResponder r(hv, kDev);
  SimGuest guest(hv);
  (void)guest.hvmloader_scan();
  guest.bar0_write(kDev, 0x20, 4, 0xCAFEF00D);
  EXPECT_EQ(guest.bar0_read(kDev, 0x20, 4), 0xCAFEF00Du);
  EXPECT_EQ(guest.bar0_read(kDev, 0x22, 2), 0xCAFEu);
  EXPECT_TRUE(hv.violations().empty());
}

TEST(LspciFormat, ShowsDisabledUnknownClassAndLargeSizes) {
  LspciInput in{pci::Sbdf{0, 0, 3, 1}};
  auto put32 = [&](uint32_t off, uint32_t v) {
    for (unsigned i = 0; i < 4; ++i) in.config[off + i] = static_cast<uint8_t>(v >> (8 * i));
  };
  put32(pci::kVendorId, 0x5678abcd);
  put32(pci::kRevisionId, 0xff000000);  // class ff00, rev 0
  put32(pci::kBar0, 0xE000000C);        // 64-bit prefetchable
  put32(pci::bar_offset(1), 0x1);
  in.bar_sizes[0] = 256ull << 20;
  EXPECT_EQ(format_lspci_nnv(in),
            "00:03.1 Class [ff00]: Device [abcd:5678]\n"
            "\tFlags: fast devsel\n"
            "\tMemory at 1e0000000 (64-bit, prefetchable) [disabled] [size=256M]\n");
}

TEST(LspciFormat, StopsOnACapabilityLoop) {
  LspciInput in{};
  in.config[pci::kStatus] = pci::kStatusCapabilitiesList;
  in.config[pci::kCapabilitiesPointer] = 0x40;
  in.config[0x40] = 0x09;
  in.config[0x41] = 0x40;  // points at itself
  in.config[0x42] = 0x08;
  const std::string out = format_lspci_nnv(in);
  EXPECT_NE(out.find("\tCapabilities: [40] Vendor Specific Information: Len=08\n"),
            std::string::npos);
  EXPECT_NE(out.find("<chain looped>"), std::string::npos);
}

}  // namespace
}  // namespace vgpu::sim
