#include "vgpu/device/vgpu_stub.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <utility>
#include <vector>

#include "../support/fakes.h"

namespace vgpu::device {
namespace {

using pci::bar_offset;
using pci::BarMapping;

constexpr uint32_t kMsi = pci::kHeaderEnd;  // the first and only capability
constexpr uint64_t kMsiAddress = 0x00000001'FEE01000ull;
constexpr uint16_t kMsiData = 0x4041;
constexpr uint32_t kBarAddress = 0xF0000000;
constexpr auto kPing = static_cast<uint32_t>(Command::kPing);

// Records every MSI the device sends.
class RecordingMsiSink : public pci::MsiSink {
 public:
  void send_msi(uint64_t address, uint32_t data) override { sent.emplace_back(address, data); }
  std::vector<std::pair<uint64_t, uint32_t>> sent;
};

class VgpuStubTest : public ::testing::Test {
 protected:
  void program_msi(bool enable, bool masked) {
    stub.config_write(kMsi + pci::kMsiAddressLow, 4, static_cast<uint32_t>(kMsiAddress));
    stub.config_write(kMsi + pci::kMsiAddressHigh, 4, static_cast<uint32_t>(kMsiAddress >> 32));
    stub.config_write(kMsi + pci::kMsiData64, 2, kMsiData);
    stub.config_write(kMsi + pci::kMsiMask64, 4, masked ? pci::kMsiVector0 : 0);
    stub.config_write(kMsi + pci::kMsiControl, 2, enable ? pci::kMsiControlEnable : 0);
  }
  uint32_t msi_pending() const { return stub.config_read(kMsi + pci::kMsiPending64, 4); }
  void ping() { stub.bar_write(VgpuStub::kRegisterBar, regs::kCommand, 4, kPing); }

  RecordingMsiSink sink;
  testing::FakeGuestMemory memory;
  testing::NullStatusSink status;
  const pci::DeviceContext context{sink, memory.dma, status};
  VgpuStub stub{StubConfig{}, context};
};

const std::pair<uint64_t, uint32_t> kProgrammedMsi{kMsiAddress, kMsiData};

TEST_F(VgpuStubTest, IdentityMatchesTheSpec) {
  EXPECT_EQ(stub.config_read(pci::kVendorId, 2), 0x1AF4u);
  EXPECT_EQ(stub.config_read(pci::kDeviceId, 2), 0x1111u);
  EXPECT_EQ(stub.config_read(pci::kVendorId, 4), 0x11111AF4u);
  EXPECT_EQ(stub.config_read(pci::kRevisionId, 4), 0x12000001u);  // rev, prog-if, sub, base
  EXPECT_EQ(stub.config_read(pci::kBaseClass, 1), 0x12u);
  EXPECT_EQ(stub.config_read(pci::kCacheLineSize, 4), 0u);  // CLS, latency, header 0, BIST
  EXPECT_EQ(stub.config_read(pci::kSubsystemVendorId, 4), 0x11111AF4u);
  EXPECT_EQ(stub.config_read(pci::kExpansionRom, 4), 0u);
  EXPECT_EQ(stub.config_read(pci::kCapabilitiesPointer, 1), 0x40u);
  EXPECT_EQ(stub.config_read(pci::kInterruptLine, 2), 0x00FFu);  // line 0xFF, pin 0
  EXPECT_EQ(stub.config_read(pci::kCommand, 4), 0x00100000u);    // command 0, status 0x0010
}

TEST_F(VgpuStubTest, ClassCodeComesFromTheConfig) {
  VgpuStub other{StubConfig{.bar0_size = 4096, .class_code = 0x0B4001}, context};
  EXPECT_EQ(other.config_read(pci::kRevisionId, 4), 0x0B400101u);
}

TEST_F(VgpuStubTest, CommandAcceptsOnlyMemoryBusMasterAndIntxDisable) {
  stub.config_write(pci::kCommand, 2, 0xFFFF);
  EXPECT_EQ(stub.config_read(pci::kCommand, 2), 0x0406u);
  stub.config_write(pci::kCommand, 2, 0);
  EXPECT_EQ(stub.config_read(pci::kCommand, 2), 0u);
}

TEST_F(VgpuStubTest, StatusKeepsCapabilitiesBitAgainstAllOnesWrite) {
  stub.config_write(pci::kStatus, 2, 0xFFFF);
  EXPECT_EQ(stub.config().status(), pci::kStatusCapabilitiesList);
}

TEST_F(VgpuStubTest, CacheLineSizeAndInterruptLineAreGuestStorage) {
  stub.config_write(pci::kCacheLineSize, 1, 0x10);
  stub.config_write(pci::kInterruptLine, 1, 0x0B);
  EXPECT_EQ(stub.config_read(pci::kCacheLineSize, 1), 0x10u);
  EXPECT_EQ(stub.config_read(pci::kInterruptLine, 1), 0x0Bu);
}

TEST_F(VgpuStubTest, HeaderIdentityFieldsIgnoreWrites) {
  for (uint32_t off : {pci::kVendorId, pci::kRevisionId, pci::kSubsystemVendorId,
                       pci::kExpansionRom, pci::kCapabilitiesPointer}) {
    const uint32_t before = stub.config_read(off, 4);
    stub.config_write(off, 4, ~before);
    EXPECT_EQ(stub.config_read(off, 4), before) << off;
  }
  stub.config_write(pci::kLatencyTimer, 2, 0xFFFF);  // latency timer and header type
  stub.config_write(pci::kInterruptPin, 1, 0x01);
  EXPECT_EQ(stub.config_read(pci::kLatencyTimer, 2), 0u);
  EXPECT_EQ(stub.config_read(pci::kInterruptPin, 1), 0u);
}

TEST_F(VgpuStubTest, Bar0ProbeOf4KiBReadsFFFFF000) {
  EXPECT_EQ(stub.config_read(bar_offset(0), 4), 0u);  // 32-bit, non-prefetchable memory
  stub.config_write(bar_offset(0), 4, 0xFFFFFFFF);
  EXPECT_EQ(stub.config_read(bar_offset(0), 4), 0xFFFFF000u);
}

TEST_F(VgpuStubTest, Bar0ProbeFollowsConfiguredSize) {
  VgpuStub big{StubConfig{.bar0_size = 64 * 1024}, context};
  big.config_write(bar_offset(0), 4, 0xFFFFFFFF);
  EXPECT_EQ(big.config_read(bar_offset(0), 4), 0xFFFF0000u);
}

TEST_F(VgpuStubTest, UnimplementedBarsReadZeroAfterProbe) {
  for (unsigned i = 1; i < pci::kBarCount; ++i) {
    stub.config_write(bar_offset(i), 4, 0xFFFFFFFF);
    EXPECT_EQ(stub.config_read(bar_offset(i), 4), 0u) << "BAR" << i;
  }
  stub.config_write(pci::kExpansionRom, 4, 0xFFFFFFFF);
  EXPECT_EQ(stub.config_read(pci::kExpansionRom, 4), 0u);
}

TEST_F(VgpuStubTest, Bar0GoesLiveOnlyWithDecodeAndAnAddress) {
  EXPECT_EQ(stub.config_write(bar_offset(0), 4, kBarAddress).bars_changed, 0);
  EXPECT_FALSE(stub.bar_mapping(VgpuStub::kRegisterBar));
  EXPECT_EQ(stub.config_write(pci::kCommand, 2, pci::kCommandMemorySpace).bars_changed, 0b1);
  EXPECT_EQ(stub.bar_mapping(VgpuStub::kRegisterBar), (BarMapping{kBarAddress, 4096}));
  EXPECT_EQ(stub.bar_mapping(VgpuStub::kRegisterBar), stub.config().bar_mapping(0));
  EXPECT_EQ(stub.config_write(pci::kCommand, 2, 0).bars_changed, 0b1);
  EXPECT_FALSE(stub.bar_mapping(VgpuStub::kRegisterBar));
}

// hvmloader: decode off, size with ~0, restore, assign, enable decode.
TEST_F(VgpuStubTest, FirmwareStyleSizingNeverExposesTheProbeRange) {
  stub.config_write(pci::kCommand, 2, 0);
  stub.config_write(bar_offset(0), 4, 0xFFFFFFFF);
  const uint32_t probe = stub.config_read(bar_offset(0), 4);
  EXPECT_EQ(~probe + 1, 4096u);
  stub.config_write(pci::kCommand, 2, pci::kCommandMemorySpace);
  EXPECT_FALSE(stub.bar_mapping(VgpuStub::kRegisterBar))
      << "decode on while BAR0 holds the probe value must not map";
  EXPECT_EQ(stub.config_write(bar_offset(0), 4, kBarAddress).bars_changed, 0b1);
  EXPECT_EQ(stub.bar_mapping(VgpuStub::kRegisterBar), (BarMapping{kBarAddress, 4096}));
}

TEST_F(VgpuStubTest, LargerBar0MapsItsWholeSize) {
  VgpuStub big{StubConfig{.bar0_size = 1 << 20}, context};
  big.config_write(bar_offset(0), 4, 0xE0000000);
  big.config_write(pci::kCommand, 2, pci::kCommandMemorySpace);
  EXPECT_EQ(big.bar_mapping(VgpuStub::kRegisterBar), (BarMapping{0xE0000000, 1 << 20}));
  EXPECT_EQ(big.bar_read(VgpuStub::kRegisterBar, 0x1000, 4), 0u);
}

TEST_F(VgpuStubTest, CapabilityListIsOneWellFormedMsiCapability) {
  EXPECT_NE(stub.config().status() & pci::kStatusCapabilitiesList, 0);
  const uint32_t at = stub.config_read(pci::kCapabilitiesPointer, 1);
  ASSERT_EQ(at, 0x40u);
  EXPECT_EQ(stub.config_read(at, 1), pci::kCapIdMsi);
  EXPECT_EQ(stub.config_read(at + 1, 1), 0u) << "the chain ends after MSI";
  EXPECT_EQ(stub.config_read(at + pci::kMsiControl, 2), 0x0180u);  // 64-bit, maskable, 1 vector
}

TEST_F(VgpuStubTest, MsiWritableFieldsAreExactlyTheSpecified) {
  for (uint32_t rel = 0; rel < pci::kMsiCapSize64Masking; rel += 4) {
    stub.config_write(kMsi + rel, 4, 0xFFFFFFFF);
  }
  EXPECT_EQ(stub.config_read(kMsi, 4), 0x0181'0005u);  // control: only Enable joins
  EXPECT_EQ(stub.config_read(kMsi + pci::kMsiAddressLow, 4), 0xFFFFFFFCu);
  EXPECT_EQ(stub.config_read(kMsi + pci::kMsiAddressHigh, 4), 0xFFFFFFFFu);
  EXPECT_EQ(stub.config_read(kMsi + pci::kMsiData64, 4), 0x0000FFFFu);  // 16-bit data
  EXPECT_EQ(stub.config_read(kMsi + pci::kMsiMask64, 4), pci::kMsiVector0);
  EXPECT_EQ(msi_pending(), 0u);
}

TEST_F(VgpuStubTest, ExtendedSpaceReadsZeroAndIgnoresWrites) {
  stub.config_write(0x100, 4, 0xFFFFFFFF);
  stub.config_write(0xFFC, 4, 0xFFFFFFFF);
  EXPECT_EQ(stub.config_read(0x100, 4), 0u);
  EXPECT_EQ(stub.config_read(0xFFC, 4), 0u);
  EXPECT_EQ(stub.config_read(0xFFF, 2), 0xFF00u);
}

TEST_F(VgpuStubTest, PingThroughBar0AnswersMagicAndRequestId) {
  stub.bar_write(VgpuStub::kRegisterBar, regs::kRequestId, 4, 0x1234);
  ping();
  EXPECT_EQ(stub.bar_read(VgpuStub::kRegisterBar, regs::kStatus, 4),
            static_cast<uint32_t>(DeviceStatus::kDone));
  EXPECT_EQ(stub.bar_read(VgpuStub::kRegisterBar, regs::kData, 8), 0x00001234'55504756ull);
  EXPECT_EQ(stub.registers().status(), DeviceStatus::kDone);
}

TEST_F(VgpuStubTest, CompletionSendsProgrammedMsiWhenEnabled) {
  program_msi(/*enable=*/true, /*masked=*/false);
  ping();
  ASSERT_EQ(sink.sent.size(), 1u);
  EXPECT_EQ(sink.sent[0], kProgrammedMsi);
}

TEST_F(VgpuStubTest, FailedCommandAlsoSignalsCompletion) {
  program_msi(true, false);
  stub.bar_write(VgpuStub::kRegisterBar, regs::kCommand, 4, 0x99);
  EXPECT_EQ(sink.sent.size(), 1u);
}

TEST_F(VgpuStubTest, NoMsiWhileMsiIsDisabled) {
  program_msi(/*enable=*/false, /*masked=*/false);
  ping();
  EXPECT_TRUE(sink.sent.empty());
  EXPECT_EQ(msi_pending(), 0u) << "a disabled MSI records nothing";
}

TEST_F(VgpuStubTest, WritesThatStartNoCommandSendNoMsi) {
  program_msi(true, false);
  stub.bar_write(VgpuStub::kRegisterBar, regs::kRequestId, 4, 1);
  stub.bar_write(VgpuStub::kRegisterBar, regs::kStatus, 4, 2);
  EXPECT_TRUE(sink.sent.empty());
}

TEST_F(VgpuStubTest, MaskedVectorSetsPendingInsteadOfSending) {
  program_msi(/*enable=*/true, /*masked=*/true);
  ping();
  EXPECT_TRUE(sink.sent.empty());
  EXPECT_EQ(msi_pending(), pci::kMsiVector0);
}

TEST_F(VgpuStubTest, UnmaskingDeliversThePendingMessageOnce) {
  program_msi(true, true);
  ping();
  ping();  // a second masked completion still leaves one pending message
  stub.config_write(kMsi + pci::kMsiMask64, 4, 0);
  ASSERT_EQ(sink.sent.size(), 1u);
  EXPECT_EQ(sink.sent[0], kProgrammedMsi);
  EXPECT_EQ(msi_pending(), 0u);
  stub.config_write(kMsi + pci::kMsiMask64, 4, 0);
  EXPECT_EQ(sink.sent.size(), 1u);
}

TEST_F(VgpuStubTest, PendingMessageWaitsForMsiEnable) {
  program_msi(true, true);
  ping();
  stub.config_write(kMsi + pci::kMsiControl, 2, 0);
  stub.config_write(kMsi + pci::kMsiMask64, 4, 0);
  EXPECT_TRUE(sink.sent.empty());
  stub.config_write(kMsi + pci::kMsiControl, 2, pci::kMsiControlEnable);
  EXPECT_EQ(sink.sent.size(), 1u);
}

TEST_F(VgpuStubTest, GuestCannotClearPendingBit) {
  program_msi(true, true);
  ping();
  stub.config_write(kMsi + pci::kMsiPending64, 4, 0);
  EXPECT_EQ(msi_pending(), pci::kMsiVector0);
}

TEST(VgpuStubConstruction, InvalidConfigIsRejected) {
  RecordingMsiSink sink;
  testing::FakeGuestMemory memory;
  testing::NullStatusSink status;
  EXPECT_THROW((VgpuStub{StubConfig{.bar0_size = 6000}, {sink, memory.dma, status}}),
               std::invalid_argument);
}

TEST(StubConfigValidation, AcceptsPowersOfTwoFrom4KiBTo1GiB) {
  EXPECT_TRUE(validate(StubConfig{}));
  EXPECT_TRUE(validate(StubConfig{.bar0_size = 4096}));
  EXPECT_TRUE(validate(StubConfig{.bar0_size = 1 << 20}));
  EXPECT_TRUE(validate(StubConfig{.bar0_size = 1 << 30}));
  EXPECT_TRUE(validate(StubConfig{.bar0_size = 4096, .class_code = 0xFFFFFF}));
}

// The message must name the problem (docs/spec.md §5).
void expect_rejected(const StubConfig& cfg, const std::string& message) {
  const Status s = validate(cfg);
  ASSERT_FALSE(s) << message;
  EXPECT_EQ(s.error().message, message);
}

TEST(StubConfigValidation, RejectsBadSizesAndClassCodesNamingTheProblem) {
  expect_rejected({.bar0_size = 6000}, "BAR0 size 6000 is not a power of two");
  expect_rejected({.bar0_size = 0}, "BAR0 size 0 is not a power of two");
  expect_rejected({.bar0_size = 2048},
                  "BAR0 size 2048 is below 4096 bytes (the register layout, and one page)");
  expect_rejected({.bar0_size = uint64_t{1} << 31},
                  "BAR0 size 2147483648 exceeds 1 GiB, the limit for a 32-bit BAR");
  expect_rejected({.bar0_size = 4096, .class_code = 0x1000000},
                  "class code 0x1000000 does not fit in 24 bits (class, subclass, prog-if)");
}

}  // namespace
}  // namespace vgpu::device
