#include "vgpu/pci/identity.h"

#include <gtest/gtest.h>

#include "vgpu/pci/config_space.h"

namespace vgpu::pci {
namespace {

DeviceIdentity two_bars() {
  DeviceIdentity id;
  id.vendor_id = 0x1AF4;
  id.device_id = 0x2222;
  id.subsystem_vendor_id = 0x1AF4;
  id.subsystem_id = 0x0001;
  id.revision = 3;
  id.class_code = 0x0B4001;
  id.bars[0] = {.size = 4096};
  id.bars[2] = {.size = 1 << 20, .is_64bit = true, .prefetchable = true};
  return id;
}

void expect_invalid(const DeviceIdentity& id, const std::string& names) {
  const Status s = validate(id);
  ASSERT_FALSE(s) << names;
  EXPECT_NE(s.error().message.find(names), std::string::npos) << s.error().message;
}

TEST(DeviceIdentity, AppliedToConfigSpaceAsTheHeaderSays) {
  ConfigSpace cs;
  ASSERT_TRUE(apply_identity(cs, two_bars()));
  EXPECT_EQ(cs.read(kVendorId, 4), 0x22221AF4u);
  EXPECT_EQ(cs.read(kRevisionId, 4), 0x0B400103u);
  EXPECT_EQ(cs.read(kHeaderType, 1), kHeaderTypeNormal);
  EXPECT_EQ(cs.read(kSubsystemVendorId, 4), 0x00011AF4u);
  EXPECT_EQ(cs.read(bar_offset(0), 4), 0u);
  EXPECT_EQ(cs.read(bar_offset(1), 4), 0u);
  EXPECT_EQ(cs.read(bar_offset(2), 4), kBarMemType64 | kBarPrefetchable);
  cs.write(bar_offset(2), 4, 0xFFFFFFFF);
  EXPECT_EQ(cs.read(bar_offset(2), 4), 0xFFF00000u | kBarMemType64 | kBarPrefetchable);
}

TEST(DeviceIdentity, RejectsWhatConfigSpaceCannotHold) {
  DeviceIdentity id = two_bars();
  id.class_code = 0x1000000;
  expect_invalid(id, "class code 0x1000000");

  id = two_bars();
  id.bars[0].size = 5000;
  expect_invalid(id, "BAR0 size 5000 is not a power of two");

  id = two_bars();
  id.bars[0].size = uint64_t{1} << 32;
  expect_invalid(id, "BAR0 size 4294967296 is outside");

  id = two_bars();
  id.bars[3] = {.size = 4096};
  expect_invalid(id, "BAR2 is 64-bit, so BAR3 must exist and be left unimplemented");

  id = two_bars();
  id.bars[5] = {.size = 4096, .is_64bit = true};
  expect_invalid(id, "BAR5 is 64-bit");
  ConfigSpace cs;
  EXPECT_FALSE(apply_identity(cs, id));
}

TEST(DeviceIdentity, SummaryNamesIdsClassAndBars) {
  EXPECT_EQ(two_bars().summary(),
            "1af4:2222 class 0x0b4001, BAR0 4096 bytes 32-bit, BAR2 1048576 bytes 64-bit "
            "prefetchable");
}

}  // namespace
}  // namespace vgpu::pci
