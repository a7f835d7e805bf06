#include "vgpu/pci/sbdf.h"

#include <gtest/gtest.h>

namespace vgpu::pci {
namespace {

TEST(Sbdf, ParsesShortFormWithDefaultSegment) {
  auto s = parse_sbdf("00:05.0");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->segment, 0);
  EXPECT_EQ(s->bus, 0);
  EXPECT_EQ(s->device, 5);
  EXPECT_EQ(s->function, 0);
  EXPECT_EQ(s->packed(), 0x28u);
}

TEST(Sbdf, ParsesFullFormInHex) {
  auto s = parse_sbdf("0001:1f:1f.7");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->segment, 1);
  EXPECT_EQ(s->bus, 0x1f);
  EXPECT_EQ(s->device, 31);
  EXPECT_EQ(s->function, 7);
  EXPECT_EQ(s->to_string(), "0001:1f:1f.7");
}

TEST(Sbdf, PackedRoundTrips) {
  Sbdf s{0x12, 0xab, 17, 3};
  EXPECT_EQ(Sbdf::from_packed(s.packed()), s);
}

TEST(Sbdf, RejectsOutOfRangeFieldsNamingThem) {
  std::string why;
  EXPECT_FALSE(parse_sbdf("00:20.0", &why));
  EXPECT_NE(why.find("device 0x20 > 31"), std::string::npos) << why;
  EXPECT_FALSE(parse_sbdf("00:05.8", &why));
  EXPECT_NE(why.find("function 8 > 7"), std::string::npos) << why;
  EXPECT_FALSE(parse_sbdf("100:05.0", &why));
  EXPECT_NE(why.find("bus 0x100 > 255"), std::string::npos) << why;
}

TEST(Sbdf, RejectsMalformedText) {
  for (const char* bad : {"", "5", "00:05", "00.05:0", "zz:05.0", "00:05.0x", "0:0:0:0.0",
                          "00000:00:05.0", ":05.0", "00:.0"}) {
    std::string why;
    EXPECT_FALSE(parse_sbdf(bad, &why)) << bad;
    EXPECT_NE(why.find("malformed SBDF"), std::string::npos) << bad << ": " << why;
  }
}

}  // namespace
}  // namespace vgpu::pci
