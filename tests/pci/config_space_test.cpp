#include "vgpu/pci/config_space.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace vgpu::pci {
namespace {

constexpr uint32_t kScratch = 0x80;  // a region the fixture makes fully writable
constexpr unsigned kScratchLen = 16;
constexpr uint16_t kCommandWritable = kCommandMemorySpace | kCommandBusMaster | kCommandIntxDisable;
constexpr uint32_t kBarAddress = 0xF0000000;
constexpr uint32_t kOtherBarAddress = 0xE0010000;

// A second capability type, to check chaining of more than one.
struct TestCapability {
  uint8_t id = 0x09;  // vendor specific
  uint8_t next = 0;
  uint8_t length = 8;
  uint8_t value = 0;
  uint32_t word = 0;
};

// A capability big enough to run out of legacy config space quickly.
struct BigCapability {
  uint8_t id = 0x09;
  uint8_t next = 0;
  uint8_t body[62] = {};
};

class ConfigSpaceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cs.store(kVendorId, 4, 0x11111AF4);
    cs.set_writable(kCommand, 2, kCommandWritable);
    cs.set_write_one_to_clear(kStatus, 2, kStatusErrorBits);
    ASSERT_TRUE(cs.register_bar(0, 4096, 0));
    for (unsigned i = 0; i < kScratchLen; ++i) {
      cs.store(kScratch + i, 1, 0x10 + i);
      cs.set_writable(kScratch + i, 1, 0xFF);
    }
  }

  // Expected little-endian value of the scratch pattern at `offset`.
  static uint32_t pattern(uint32_t offset, unsigned size) {
    uint32_t v = 0;
    for (unsigned i = 0; i < size; ++i) v |= (0x10 + (offset - kScratch) + i) << (8 * i);
    return v;
  }

  void place_bar0(uint32_t address) {
    cs.write(bar_offset(0), 4, address);
    cs.write(kCommand, 2, kCommandMemorySpace);
  }

  ConfigSpace cs;
};

TEST_F(ConfigSpaceTest, ReadsEverySizeAtEveryOffsetLittleEndian) {
  for (unsigned size : {1u, 2u, 4u}) {
    for (uint32_t off = kScratch; off + size <= kScratch + kScratchLen; ++off) {
      EXPECT_EQ(cs.read(off, size), pattern(off, size)) << "offset " << off << " size " << size;
    }
  }
}

TEST_F(ConfigSpaceTest, DwordCrossingReadTakesBytesFromBothDwords) {
  EXPECT_EQ(cs.read(kScratch + 3, 4), 0x16151413u);
  EXPECT_EQ(cs.read(kScratch + 3, 2), 0x1413u);
  EXPECT_EQ(cs.read(kScratch + 7, 2), 0x1817u);
}

TEST_F(ConfigSpaceTest, WritesEverySizeAtAlignedUnalignedAndCrossingOffsets) {
  for (unsigned size : {1u, 2u, 4u}) {
    for (uint32_t off = kScratch; off + size <= kScratch + kScratchLen; ++off) {
      const uint32_t value = 0xA1B2C3D4u >> (8 * (4 - size));
      cs.write(off, size, value);
      EXPECT_EQ(cs.read(off, size), value) << "offset " << off << " size " << size;
      if (off > kScratch) {
        EXPECT_EQ(cs.read(off - 1, 1), pattern(off - 1, 1)) << off;
      }
      if (off + size < kScratch + kScratchLen) {
        EXPECT_EQ(cs.read(off + size, 1), pattern(off + size, 1)) << off;
      }
      cs.write(off, size, pattern(off, size));  // restore for the next round
    }
  }
}

TEST_F(ConfigSpaceTest, WriteIgnoresValueBitsAboveTheAccessSize) {
  cs.write(kScratch + 2, 1, 0xFFFFFF55);
  EXPECT_EQ(cs.read(kScratch, 4), 0x13551110u);
}

TEST_F(ConfigSpaceTest, BytesPastTheEndReadAllOnes) {
  cs.store(0xFFD, 4, 0x44332211);  // the fourth byte does not exist
  EXPECT_EQ(cs.read(0xFFD, 1), 0x11u);
  EXPECT_EQ(cs.read(0xFFD, 2), 0x2211u);
  EXPECT_EQ(cs.read(0xFFD, 4), 0xFF332211u);
  EXPECT_EQ(cs.read(0xFFE, 4), 0xFFFF3322u);
  EXPECT_EQ(cs.read(0xFFF, 2), 0xFF33u);
  EXPECT_EQ(cs.read(0x1000, 4), 0xFFFFFFFFu);
  EXPECT_EQ(cs.read(0xFFFFFFFF, 4), 0xFFFFFFFFu);
}

TEST_F(ConfigSpaceTest, WriteStraddlingTheEndKeepsInRangeBytesOnly) {
  cs.set_writable(0xFFC, 4, 0xFFFFFFFF);
  cs.write(0xFFE, 4, 0xAABBCCDD);
  EXPECT_EQ(cs.read(0xFFC, 4), 0xCCDD0000u);
  cs.write(0xFFFFFFFF, 4, 0x12345678);  // must neither wrap to offset 0 nor crash
  EXPECT_EQ(cs.read(kVendorId, 4), 0x11111AF4u);
}

TEST_F(ConfigSpaceTest, UnsupportedSizesReadAllOnesAndDropWrites) {
  EXPECT_EQ(cs.read(kScratch, 0), 0xFFFFFFFFu);
  EXPECT_EQ(cs.read(kScratch, 8), 0xFFFFFFFFu);
  cs.write(kScratch, 0, 0);
  cs.write(kScratch, 5, 0);
  EXPECT_EQ(cs.read(kScratch, 4), pattern(kScratch, 4));
}

TEST_F(ConfigSpaceTest, ReadOnlyBytesIgnoreWrites) {
  cs.write(kVendorId, 4, 0);
  EXPECT_EQ(cs.read(kVendorId, 4), 0x11111AF4u);
  cs.write(kDeviceId + 1, 1, 0x00);
  EXPECT_EQ(cs.read(kDeviceId, 2), 0x1111u);
}

TEST_F(ConfigSpaceTest, CommandKeepsOnlyWritableBits) {
  cs.write(kCommand, 2, 0xFFFF);
  EXPECT_EQ(cs.command(), kCommandWritable);
  cs.write(kCommand, 2, 0);
  EXPECT_EQ(cs.command(), 0);
}

TEST_F(ConfigSpaceTest, StatusErrorBitsClearOnlyWhereOnesAreWritten) {
  cs.store(kStatus, 2, kStatusCapabilitiesList | kStatusErrorBits);
  cs.write(kStatus, 2, 0);  // writing 0 clears nothing
  EXPECT_EQ(cs.status(), kStatusCapabilitiesList | kStatusErrorBits);
  cs.write(kStatus, 2, kStatusReceivedMasterAbort);
  EXPECT_EQ(cs.status(),
            (kStatusCapabilitiesList | kStatusErrorBits) & ~kStatusReceivedMasterAbort);
  cs.write(kStatus, 2, 0xFFFF);  // non-W1C bits survive an all-ones write
  EXPECT_EQ(cs.status(), kStatusCapabilitiesList);
}

TEST_F(ConfigSpaceTest, DwordWriteSetsCommandAndClearsStatusTogether) {
  cs.store(kStatus, 2, kStatusDetectedParityError | kStatusSignaledTargetAbort);
  cs.write(kCommand, 4, uint32_t{kStatusDetectedParityError} << 16 | kCommandBusMaster);
  EXPECT_EQ(cs.command(), kCommandBusMaster);
  EXPECT_EQ(cs.status(), kStatusSignaledTargetAbort);
}

TEST_F(ConfigSpaceTest, BarProbeReadsBackSizeMask) {
  cs.write(bar_offset(0), 4, 0xFFFFFFFF);
  EXPECT_EQ(cs.read(bar_offset(0), 4), 0xFFFFF000u);
}

TEST_F(ConfigSpaceTest, BarProbeOf64KiBBarReadsBack64KiBMask) {
  ASSERT_TRUE(cs.register_bar(2, 64 * 1024, 0));
  cs.write(bar_offset(2), 4, 0xFFFFFFFF);
  EXPECT_EQ(cs.read(bar_offset(2), 4), 0xFFFF0000u);
}

TEST_F(ConfigSpaceTest, BarTypeBitsAreReadOnlyAndSurviveTheProbe) {
  ASSERT_TRUE(cs.register_bar(1, 4096, kBarPrefetchable));
  EXPECT_EQ(cs.read(bar_offset(1), 4), kBarPrefetchable);
  cs.write(bar_offset(1), 4, 0xFFFFFFFF);
  EXPECT_EQ(cs.read(bar_offset(1), 4), 0xFFFFF000u | kBarPrefetchable);
  cs.write(bar_offset(1), 4, 0);
  EXPECT_EQ(cs.read(bar_offset(1), 4), kBarPrefetchable);
}

TEST_F(ConfigSpaceTest, BarAddressBitsBelowTheSizeAreReadOnly) {
  cs.write(bar_offset(0), 4, 0xFEBF1234);
  EXPECT_EQ(cs.read(bar_offset(0), 4), 0xFEBF1000u);
}

TEST_F(ConfigSpaceTest, UnregisteredBarReadsZeroAndHasNoMapping) {
  cs.write(bar_offset(3), 4, 0xFFFFFFFF);
  EXPECT_EQ(cs.read(bar_offset(3), 4), 0u);
  cs.write(kCommand, 2, kCommandMemorySpace);
  EXPECT_FALSE(cs.bar_mapping(3));
  EXPECT_FALSE(cs.bar_mapping(kBarCount));
}

TEST_F(ConfigSpaceTest, BarMappingLiveWithDecodeOnAndValidAddress) {
  place_bar0(kBarAddress);
  EXPECT_EQ(cs.bar_mapping(0), (BarMapping{kBarAddress, 4096}));
}

TEST_F(ConfigSpaceTest, BarMappingAbsentWhileMemoryDecodeIsOff) {
  cs.write(bar_offset(0), 4, kBarAddress);
  cs.write(kCommand, 2, kCommandBusMaster | kCommandIoSpace);
  EXPECT_FALSE(cs.bar_mapping(0));
}

TEST_F(ConfigSpaceTest, BarMappingAbsentForAddressZero) {
  place_bar0(0);
  EXPECT_FALSE(cs.bar_mapping(0));
}

TEST_F(ConfigSpaceTest, BarMappingAbsentForTheProbeValue) {
  place_bar0(0xFFFFFFFF);
  EXPECT_FALSE(cs.bar_mapping(0));
}

TEST_F(ConfigSpaceTest, EffectsReportDecodeOnAndOff) {
  cs.write(bar_offset(0), 4, kBarAddress);
  EXPECT_EQ(cs.write(kCommand, 2, kCommandMemorySpace).bars_changed, 0b1);
  EXPECT_EQ(cs.write(kCommand, 2, 0).bars_changed, 0b1);
  EXPECT_FALSE(cs.bar_mapping(0));
}

TEST_F(ConfigSpaceTest, EffectsReportMoveOnlyWhenTheAddressChanges) {
  place_bar0(kBarAddress);
  EXPECT_EQ(cs.write(bar_offset(0), 4, kOtherBarAddress).bars_changed, 0b1);
  EXPECT_EQ(cs.bar_mapping(0), (BarMapping{kOtherBarAddress, 4096}));
  EXPECT_EQ(cs.write(bar_offset(0), 4, kOtherBarAddress).bars_changed, 0);
  // Bits below the size are read-only, so this lands on the same address.
  EXPECT_EQ(cs.write(bar_offset(0), 4, kOtherBarAddress | 0x123).bars_changed, 0);
}

TEST_F(ConfigSpaceTest, EffectsReportNothingForBarWritesWhileDecodeIsOff) {
  EXPECT_EQ(cs.write(bar_offset(0), 4, kBarAddress).bars_changed, 0);
  EXPECT_EQ(cs.write(bar_offset(0), 4, kOtherBarAddress).bars_changed, 0);
}

TEST_F(ConfigSpaceTest, EffectsReportProbeAndRestoreWhileDecoding) {
  place_bar0(kBarAddress);
  EXPECT_EQ(cs.write(bar_offset(0), 4, 0xFFFFFFFF).bars_changed, 0b1);
  EXPECT_FALSE(cs.bar_mapping(0));
  EXPECT_EQ(cs.write(bar_offset(0), 4, kBarAddress).bars_changed, 0b1);
  EXPECT_EQ(cs.bar_mapping(0), (BarMapping{kBarAddress, 4096}));
}

TEST_F(ConfigSpaceTest, EffectsReportSingleByteWriteThatMovesTheBar) {
  place_bar0(kBarAddress);
  EXPECT_EQ(cs.write(bar_offset(0) + 3, 1, 0xE0).bars_changed, 0b1);
  EXPECT_EQ(cs.bar_mapping(0), (BarMapping{0xE0000000, 4096}));
}

TEST_F(ConfigSpaceTest, EffectsNameEachBarThatChanged) {
  ASSERT_TRUE(cs.register_bar(2, 64 * 1024, 0));
  cs.write(bar_offset(0), 4, kBarAddress);
  cs.write(bar_offset(2), 4, kOtherBarAddress);
  EXPECT_EQ(cs.write(kCommand, 2, kCommandMemorySpace).bars_changed, 0b101);
  EXPECT_EQ(cs.write(bar_offset(2), 4, 0xD0000000).bars_changed, 0b100);
}

TEST_F(ConfigSpaceTest, EffectsEmptyForWritesThatCannotMoveABar) {
  place_bar0(kBarAddress);
  EXPECT_EQ(cs.write(kCommand, 2, kCommandMemorySpace | kCommandBusMaster).bars_changed, 0);
  EXPECT_EQ(cs.write(kScratch, 4, 0).bars_changed, 0);
  EXPECT_EQ(cs.write(kStatus, 2, 0xFFFF).bars_changed, 0);
}

TEST_F(ConfigSpaceTest, RegisterBarRejectsWhatAMemoryBarCannotBe) {
  EXPECT_FALSE(cs.register_bar(kBarCount, 4096, 0));
  const Status not_pow2 = cs.register_bar(1, 6000, 0);
  ASSERT_FALSE(not_pow2);
  EXPECT_NE(not_pow2.error().message.find("6000 is not a power of two"), std::string::npos);
  EXPECT_FALSE(cs.register_bar(1, 0, 0));
  EXPECT_FALSE(cs.register_bar(1, 8, 0));
  EXPECT_FALSE(cs.register_bar(1, uint64_t{1} << 32, 0)) << "too large for a 32-bit BAR";
  EXPECT_FALSE(cs.register_bar(1, uint64_t{1} << 41, kBarMemType64));
  EXPECT_FALSE(cs.register_bar(kBarCount - 1, 4096, kBarMemType64)) << "no upper half left";
  EXPECT_FALSE(cs.register_bar(1, 4096, kBarIoSpace));
  cs.write(bar_offset(1), 4, 0xFFFFFFFF);
  EXPECT_EQ(cs.read(bar_offset(1), 4), 0u) << "a rejected BAR must stay unimplemented";
}

// A 64-bit BAR: two registers, sized and placed as one, probe values of
// either half never mapped.
class Bar64Test : public ::testing::Test {
 protected:
  static constexpr uint64_t kSize = uint64_t{1} << 20;
  void SetUp() override {
    ASSERT_TRUE(cs.register_bar(2, kSize, kBarMemType64 | kBarPrefetchable));
    cs.set_writable(kCommand, 2, kCommandMemorySpace);
  }
  void place(uint64_t address) {
    cs.write(bar_offset(2), 4, static_cast<uint32_t>(address));
    cs.write(bar_offset(3), 4, static_cast<uint32_t>(address >> 32));
  }
  ConfigSpace cs;
};

TEST_F(Bar64Test, SizingReadsTheMaskFromBothHalves) {
  EXPECT_EQ(cs.read(bar_offset(2), 4), kBarMemType64 | kBarPrefetchable);
  cs.write(bar_offset(2), 4, 0xFFFFFFFF);
  cs.write(bar_offset(3), 4, 0xFFFFFFFF);
  EXPECT_EQ(cs.read(bar_offset(2), 4), 0xFFF00000u | kBarMemType64 | kBarPrefetchable);
  EXPECT_EQ(cs.read(bar_offset(3), 4), 0xFFFFFFFFu);
}

TEST_F(Bar64Test, MapsAbove4GiBAsOneWindow) {
  place(0x12'3450'0000);
  cs.write(kCommand, 2, kCommandMemorySpace);
  EXPECT_EQ(cs.bar_mapping(2), (BarMapping{0x12'3450'0000, kSize}));
  EXPECT_FALSE(cs.bar_mapping(3)) << "the upper half is no BAR of its own";
}

TEST_F(Bar64Test, ProbeValuesOfEitherHalfAreNotMapped) {
  cs.write(kCommand, 2, kCommandMemorySpace);
  place(0xF000'0000);
  EXPECT_EQ(cs.bar_mapping(2), (BarMapping{0xF000'0000, kSize}));
  cs.write(bar_offset(3), 4, 0xFFFFFFFF);  // sizing the upper half, decode on
  EXPECT_FALSE(cs.bar_mapping(2));
  place(0);
  cs.write(bar_offset(2), 4, 0xFFFFFFFF);  // sizing the lower half, upper 0
  EXPECT_FALSE(cs.bar_mapping(2));
  place(0);
  EXPECT_FALSE(cs.bar_mapping(2)) << "0 is unassigned";
}

TEST_F(Bar64Test, WritingTheUpperHalfReportsTheBarAsChanged) {
  place(0xF000'0000);
  cs.write(kCommand, 2, kCommandMemorySpace);
  const ConfigWriteEffects fx = cs.write(bar_offset(3), 4, 0x1);
  EXPECT_TRUE(fx.bar_changed(2));
  EXPECT_EQ(cs.bar_mapping(2), (BarMapping{0x1'F000'0000, kSize}));
}

TEST_F(ConfigSpaceTest, NoCapabilitiesMeansStatusBitAndPointerClear) {
  EXPECT_EQ(cs.status() & kStatusCapabilitiesList, 0);
  EXPECT_EQ(cs.read(kCapabilitiesPointer, 1), 0u);
  EXPECT_FALSE(cs.find_capability(kCapIdMsi));
}

TEST_F(ConfigSpaceTest, CapabilityChainWalksFromPointerToTheEnd) {
  ASSERT_TRUE(cs.add_capability(MsiCapability64{}));
  ASSERT_TRUE(cs.add_capability(TestCapability{}));
  EXPECT_NE(cs.status() & kStatusCapabilitiesList, 0);
  std::vector<std::pair<uint32_t, uint32_t>> walked;  // (offset, id)
  uint32_t at = cs.read(kCapabilitiesPointer, 1);
  while (at != 0 && walked.size() < 8) {
    walked.emplace_back(at, cs.read(at, 1));
    at = cs.read(at + 1, 1);
  }
  const std::vector<std::pair<uint32_t, uint32_t>> expected = {{0x40, kCapIdMsi},
                                                               {0x40 + kMsiCapSize64Masking, 0x09}};
  EXPECT_EQ(walked, expected);
}

TEST_F(ConfigSpaceTest, CapabilitiesAreDwordAligned) {
  struct OddCapability {
    uint8_t id = 0x09;
    uint8_t next = 0;
    uint16_t pad = 0;
  };
  ASSERT_EQ(cs.add_capability(OddCapability{}).value(), 0x40);
  ASSERT_EQ(cs.add_capability(OddCapability{}).value(), 0x44);
  EXPECT_EQ(cs.find_capability(0x09), 0x40);
}

TEST_F(ConfigSpaceTest, CapabilityThatDoesNotFitIsRejectedAndChainStaysIntact) {
  ASSERT_TRUE(cs.add_capability(BigCapability{}));  // 0x40
  ASSERT_TRUE(cs.add_capability(BigCapability{}));  // 0x80
  ASSERT_TRUE(cs.add_capability(BigCapability{}));  // 0xC0, ends at 0x100
  EXPECT_FALSE(cs.add_capability(TestCapability{}));
  EXPECT_EQ(cs.read(0xC1, 1), 0u) << "last capability must still end the chain";
}

TEST_F(ConfigSpaceTest, CapabilityBytesAreReadOnlyUnlessDeclaredWritable) {
  auto writable = capability_filled<MsiCapability64>(0);
  writable.data = 0xFFFF;
  const uint8_t at = cs.add_capability(MsiCapability64{}, writable).value();
  cs.write(at + kMsiAddressLow, 4, 0xFEE00000);
  cs.write(at + kMsiData64, 4, 0xFFFFFFFF);
  const auto msi = cs.capability<MsiCapability64>(at);
  EXPECT_EQ(msi.address_low, 0u);
  EXPECT_EQ(msi.data, 0xFFFF);
  EXPECT_EQ(msi.reserved, 0);
}

TEST_F(ConfigSpaceTest, CapabilityIdAndNextStayReadOnlyEvenIfDeclaredWritable) {
  const auto all_ones = capability_filled<TestCapability>(0xFF);
  const uint8_t at = cs.add_capability(TestCapability{}, all_ones).value();
  cs.write(at, 4, 0x12345678);
  EXPECT_EQ(cs.read(at, 2), 0x0009u);
  EXPECT_EQ(cs.read(at + 2, 2), 0x1234u) << "the declared-writable bytes take the write";
}

TEST_F(ConfigSpaceTest, MsiChangedOnlyForWritesTouchingTheMsiCapability) {
  const uint8_t msi = cs.add_capability(MsiCapability64{}).value();
  const uint8_t other = cs.add_capability(TestCapability{}).value();
  EXPECT_FALSE(cs.write(kInterruptLine, 1, 0).msi_changed);
  EXPECT_TRUE(cs.write(msi - 1, 2, 0).msi_changed) << "a write crossing into the capability";
  EXPECT_TRUE(cs.write(msi + kMsiPending64 + 3, 1, 0).msi_changed);
  EXPECT_FALSE(cs.write(other, 4, 0).msi_changed);
}

TEST_F(ConfigSpaceTest, ExtendedSpaceReadsZeroAndIgnoresWrites) {
  for (uint32_t off : {0x100u, 0x101u, 0x7FEu, 0xFFCu}) {
    cs.write(off, 4, 0xFFFFFFFF);
    EXPECT_EQ(cs.read(off, 4), 0u) << off;
  }
}

}  // namespace
}  // namespace vgpu::pci
