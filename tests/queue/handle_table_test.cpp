#include "vgpu/queue/handle_table.h"

#include <gtest/gtest.h>

namespace vgpu::queue {
namespace {

TEST(HandleTable, ChargesWholeGranulesAndRejectsWhatCanNeverFit) {
  HandleTable t(1 << 20, 4096, 8);
  EXPECT_EQ(t.charge_for(1), 4096u);
  EXPECT_EQ(t.charge_for(4096), 4096u);
  EXPECT_EQ(t.charge_for(4097), 8192u);
  EXPECT_FALSE(t.charge_for(0));
  EXPECT_FALSE(t.charge_for((1 << 20) + 1));
  EXPECT_FALSE(t.charge_for(~0ull)) << "no overflow in the rounding";
}

TEST(HandleTable, HandlesAreNonZeroAndStaleOnesNeverMatchALaterAllocation) {
  HandleTable t(1 << 20, 4096, 2);
  const uint64_t a = t.insert(0, 10, 4096);
  EXPECT_NE(a, 0u);
  ASSERT_NE(t.find(a), nullptr);
  EXPECT_EQ(t.free(), (1u << 20) - 4096);
  ASSERT_TRUE(t.remove(a));
  EXPECT_EQ(t.find(a), nullptr);
  const uint64_t b = t.insert(8192, 10, 4096);  // same slot, next generation
  EXPECT_NE(a, b);
  EXPECT_EQ(t.find(a), nullptr);
  EXPECT_EQ(t.find(b)->addr, 8192u);
  EXPECT_EQ(t.find(b + (1ull << 32)), nullptr) << "wrong generation";
  EXPECT_EQ(t.find(0), nullptr);
  EXPECT_EQ(t.find(0xFFFFFFFF), nullptr);
  t.insert(0, 1, 4096);
  EXPECT_TRUE(t.full());
  t.clear();
  EXPECT_EQ(t.live(), 0u);
  EXPECT_EQ(t.free(), 1u << 20);
  EXPECT_EQ(t.find(b), nullptr) << "cleared handles stay invalid";
}

}  // namespace
}  // namespace vgpu::queue
