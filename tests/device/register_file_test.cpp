#include "vgpu/device/register_file.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <limits>

namespace vgpu::device {
namespace {

using regs::kCommand;
using regs::kData;
using regs::kDataLength;
using regs::kDataOffset;
using regs::kRequestId;
using regs::kStatus;

uint32_t status_value(DeviceStatus s) {
  return static_cast<uint32_t>(s);
}

// Fills every guest-writable byte in 0x000..0x02F with a distinct value and
// keeps a byte-for-byte model of what the guest should read back.
class RegisterFileWidthTest : public ::testing::Test {
 protected:
  static constexpr uint32_t kSpan = kData + 0x10;

  void SetUp() override {
    for (uint32_t off = 0; off < kSpan; ++off) {
      const auto byte = static_cast<uint8_t>(0x40 + off);
      // COMMAND would run; fill it last, then STATUS holds the result.
      if (off >= kCommand + regs::kRegisterWidth) rf.write(off, 1, byte);
      if (access_at(off) == Access::kReadWrite) model[off] = byte;
    }
    rf.write(kCommand, 4, 0);  // NOP: COMMAND 0, STATUS DONE
    model[kCommand] = model[kCommand + 1] = model[kCommand + 2] = model[kCommand + 3] = 0;
    model[kStatus] = static_cast<uint8_t>(DeviceStatus::kDone);
  }

  uint64_t expected(uint32_t offset, unsigned size) const {
    uint64_t v = 0;
    for (unsigned i = 0; i < size; ++i) v |= uint64_t{model[offset + i]} << (8 * i);
    return v;
  }

  RegisterFile rf;
  std::array<uint8_t, kSpan + 8> model{};
};

TEST(RegisterFile, StartsIdleWithEveryRegisterZero) {
  RegisterFile rf;
  EXPECT_EQ(rf.status(), DeviceStatus::kIdle);
  for (uint32_t off = 0; off < 0x1000; off += 8) EXPECT_EQ(rf.read(off, 8), 0u) << off;
}

TEST_F(RegisterFileWidthTest, ReadsEveryWidthAtEveryOffsetAsLittleEndianBytes) {
  for (unsigned size : {1u, 2u, 4u, 8u}) {
    for (uint32_t off = 0; off + size <= kSpan; ++off) {
      EXPECT_EQ(rf.read(off, size), expected(off, size)) << "offset " << off << " size " << size;
    }
  }
}

TEST_F(RegisterFileWidthTest, WritesEveryWidthAtEveryOffsetOutsideCommand) {
  for (unsigned size : {1u, 2u, 4u, 8u}) {
    for (uint32_t off = kStatus; off + size <= kSpan; ++off) {
      const uint64_t value = 0x0123456789ABCDEFull + off;
      EXPECT_FALSE(rf.write(off, size, value)) << "no command may start at " << off;
      for (unsigned i = 0; i < size; ++i) {
        if (access_at(off + i) == Access::kReadWrite) {
          model[off + i] = static_cast<uint8_t>(value >> (8 * i));
        }
      }
      ASSERT_EQ(rf.read(0, 8), expected(0, 8)) << "offset " << off << " size " << size;
      for (uint32_t at = 8; at < kSpan; at += 8) {
        ASSERT_EQ(rf.read(at, 8), expected(at, 8)) << "after offset " << off << " size " << size;
      }
    }
  }
}

TEST(RegisterFile, StatusIgnoresGuestWrites) {
  RegisterFile rf;
  EXPECT_FALSE(rf.write(kStatus, 4, 0xFFFFFFFF));
  EXPECT_EQ(rf.read(kStatus, 4), status_value(DeviceStatus::kIdle));
}

TEST(RegisterFile, ReservedHeaderWordsReadZeroAndIgnoreWrites) {
  RegisterFile rf;
  for (uint32_t off = regs::kReservedStart; off < kData; off += 4) {
    rf.write(off, 4, 0xFFFFFFFF);
    EXPECT_EQ(rf.read(off, 4), 0u) << off;
  }
}

TEST(RegisterFile, WriteStraddlingReservedAndDataStoresOnlyDataBytes) {
  RegisterFile rf;
  rf.write(kData - 4, 8, 0x1122334455667788ull);
  EXPECT_EQ(rf.read(kData - 4, 8), 0x1122334400000000ull);
}

TEST(RegisterFile, WriteStraddlingEndOfDataStoresOnlyDataBytes) {
  RegisterFile rf;
  rf.write(regs::kDataEnd - 2, 4, 0xAABBCCDD);
  EXPECT_EQ(rf.read(regs::kDataEnd - 4, 8), 0x00000000CCDD0000ull);
}

TEST(RegisterFile, ReservedTailAndSpaceBeyondTheLayoutReadZero) {
  RegisterFile rf;
  for (uint64_t off : {uint64_t{regs::kDataEnd}, uint64_t{0xFF8}, regs::kLayoutSize,
                       uint64_t{0x12345}, std::numeric_limits<uint64_t>::max() - 3}) {
    rf.write(off, 8, ~uint64_t{0});
    EXPECT_EQ(rf.read(off, 8), 0u) << off;
  }
}

TEST(RegisterFile, UnsupportedSizesReadAllOnesAndDropWrites) {
  RegisterFile rf;
  EXPECT_EQ(rf.read(kRequestId, 0), ~uint64_t{0});
  EXPECT_EQ(rf.read(kRequestId, 9), ~uint64_t{0});
  EXPECT_FALSE(rf.write(kCommand, 0, 1));
  EXPECT_FALSE(rf.write(kRequestId, 16, 1));
  EXPECT_EQ(rf.read(kRequestId, 4), 0u);
  EXPECT_EQ(rf.status(), DeviceStatus::kIdle);
}

TEST(RegisterFile, NopCompletesWithDone) {
  RegisterFile rf;
  EXPECT_EQ(rf.write(kCommand, 4, static_cast<uint32_t>(Command::kNop)), DeviceStatus::kDone);
  EXPECT_EQ(rf.read(kStatus, 4), status_value(DeviceStatus::kDone));
}

TEST(RegisterFile, PingAnswersMagicAndRequestId) {
  RegisterFile rf;
  rf.write(kRequestId, 4, 0xCAFEF00D);
  EXPECT_EQ(rf.write(kCommand, 4, static_cast<uint32_t>(Command::kPing)), DeviceStatus::kDone);
  EXPECT_EQ(rf.read(kStatus, 4), status_value(DeviceStatus::kDone));
  EXPECT_EQ(rf.read(regs::kPingMagicOffset, 4), regs::kPingMagic);
  EXPECT_EQ(rf.read(regs::kPingRequestIdOffset, 4), 0xCAFEF00Du);
  EXPECT_EQ(rf.read(kData, 8), 0xCAFEF00D'55504756ull);
}

TEST(RegisterFile, PingMagicSpellsVgpuInMemoryOrder) {
  RegisterFile rf;
  rf.write(kCommand, 4, static_cast<uint32_t>(Command::kPing));
  EXPECT_EQ(rf.read(kData + 0, 1), uint64_t{'V'});
  EXPECT_EQ(rf.read(kData + 1, 1), uint64_t{'G'});
  EXPECT_EQ(rf.read(kData + 2, 1), uint64_t{'P'});
  EXPECT_EQ(rf.read(kData + 3, 1), uint64_t{'U'});
}

TEST(RegisterFile, PingLeavesTheRestOfDataAlone) {
  RegisterFile rf;
  rf.write(kData + 8, 8, 0x1111222233334444ull);
  rf.write(kDataOffset, 4, 0x10);
  rf.write(kDataLength, 4, 0x20);
  rf.write(kCommand, 4, static_cast<uint32_t>(Command::kPing));
  EXPECT_EQ(rf.read(kData + 8, 8), 0x1111222233334444ull);
  EXPECT_EQ(rf.read(kDataOffset, 8), 0x00000020'00000010ull);
}

TEST(RegisterFile, UnknownCommandCompletesWithError) {
  RegisterFile rf;
  EXPECT_EQ(rf.write(kCommand, 4, 0x7), DeviceStatus::kError);
  EXPECT_EQ(rf.read(kStatus, 4), status_value(DeviceStatus::kError));
  EXPECT_EQ(rf.read(kData, 4), 0u) << "an unknown command must not answer like PING";
}

TEST(RegisterFile, CommandAfterErrorRecovers) {
  RegisterFile rf;
  rf.write(kCommand, 4, 0xFFFFFFFF);
  EXPECT_EQ(rf.write(kCommand, 4, static_cast<uint32_t>(Command::kNop)), DeviceStatus::kDone);
}

TEST(RegisterFile, ByteWriteToCommandRunsTheWholeResultingValue) {
  RegisterFile rf;
  EXPECT_EQ(rf.write(kCommand, 1, 0x01), DeviceStatus::kDone);  // COMMAND = 0x00000001: PING
  EXPECT_EQ(rf.read(regs::kPingMagicOffset, 4), regs::kPingMagic);
  EXPECT_EQ(rf.write(kCommand + 1, 1, 0x01), DeviceStatus::kError);  // COMMAND = 0x00000101
  EXPECT_EQ(rf.read(kCommand, 4), 0x101u);
  EXPECT_EQ(rf.write(kCommand + 1, 1, 0x00), DeviceStatus::kDone);  // back to PING
}

TEST(RegisterFile, QwordWriteOverCommandAndStatusRunsCommandAndKeepsDeviceStatus) {
  RegisterFile rf;
  const uint64_t value = 0xFFFFFFFF'00000000ull | static_cast<uint32_t>(Command::kPing);
  EXPECT_EQ(rf.write(kCommand, 8, value), DeviceStatus::kDone);
  EXPECT_EQ(rf.read(kCommand, 8), uint64_t{status_value(DeviceStatus::kDone)} << 32 | 1);
}

TEST(RegisterFile, UnalignedWriteStraddlingCommandAndStatusStartsTheCommand) {
  RegisterFile rf;
  // 2 bytes at 0x003: COMMAND's top byte (0, so COMMAND stays NOP) and a
  // STATUS byte, which is dropped.
  EXPECT_EQ(rf.write(kCommand + 3, 2, 0xFF00), DeviceStatus::kDone);
  EXPECT_EQ(rf.read(kStatus, 4), status_value(DeviceStatus::kDone));
}

TEST(RegisterFile, WritesThatMissCommandStartNothing) {
  RegisterFile rf;
  EXPECT_FALSE(rf.write(kStatus, 4, 1));
  EXPECT_FALSE(rf.write(kRequestId, 4, 1));
  EXPECT_FALSE(rf.write(kData, 8, 1));
  EXPECT_EQ(rf.status(), DeviceStatus::kIdle);
}

}  // namespace
}  // namespace vgpu::device
