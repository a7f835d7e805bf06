// The CPU backend and its pieces: CRC-32C check value and chaining, the
// extent allocator, zeroed allocations, memmove, fill, saxpy, bounds.
#include <gtest/gtest.h>

#include <bit>
#include <cstring>
#include <string_view>
#include <vector>

#include "vgpu/compute/cpu_backend.h"
#include "vgpu/compute/crc32c.h"
#include "vgpu/compute/extent_allocator.h"

namespace vgpu::compute {
namespace {

std::span<const std::byte> bytes(std::string_view s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

TEST(Crc32c, StandardCheckValueAndChainingInPieces) {
  EXPECT_EQ(crc32c_extend(0, bytes("123456789")), kCrc32cCheck);
  EXPECT_EQ(crc32c_extend(crc32c_extend(0, bytes("1234")), bytes("56789")), kCrc32cCheck);
  EXPECT_EQ(crc32c_extend(0, {}), 0u);
  // RFC 3720 B.4: 32 bytes of zeros.
  const std::vector<std::byte> zeros(32);
  EXPECT_EQ(crc32c_extend(0, zeros), 0x8A9136AAu);
}

TEST(ExtentAllocator, FirstFitAlignsAndCoalescesFreedNeighbours) {
  ExtentAllocator a(16 * 4096, 4096);
  const auto x = a.allocate(1);
  const auto y = a.allocate(4097);
  const auto z = a.allocate(4096);
  ASSERT_TRUE(x && y && z);
  EXPECT_EQ(*x, 0u);
  EXPECT_EQ(*y, 4096u);
  EXPECT_EQ(*z, 3 * 4096u);
  EXPECT_EQ(a.size_of(*y), 8192u);
  EXPECT_FALSE(a.allocate(13 * 4096)) << "only 12 pages are left";
  EXPECT_TRUE(a.release(*x));
  EXPECT_TRUE(a.release(*y));
  EXPECT_FALSE(a.release(*y));
  const auto big = a.allocate(3 * 4096);  // x and y's pages, merged
  ASSERT_TRUE(big);
  EXPECT_EQ(*big, 0u);
  EXPECT_FALSE(a.allocate(0));
}

class CpuBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = CpuBackend::create_memfd(64 << 20);
    ASSERT_TRUE(b);
    be = std::move(*b);
  }
  std::unique_ptr<CpuBackend> be;
};

TEST_F(CpuBackendTest, FreedMemoryReadsAsZerosWhenAllocatedAgain) {
  auto a = be->alloc(8192);
  ASSERT_TRUE(a);
  std::vector<std::byte> ones(8192, std::byte{0xFF});
  ASSERT_TRUE(be->copy_in(*a, ones));
  ASSERT_TRUE(be->free(*a));
  auto b = be->alloc(8192);
  ASSERT_TRUE(b);
  EXPECT_EQ(*a, *b);
  std::vector<std::byte> back(8192, std::byte{1});
  ASSERT_TRUE(be->copy_out(back, *b));
  EXPECT_EQ(back, std::vector<std::byte>(8192));
  EXPECT_FALSE(be->free(*b + 4096)) << "not an allocation";
}

TEST_F(CpuBackendTest, FillCopySaxpyAndCrcDoWhatTheySay) {
  auto a = be->alloc(1 << 16);
  ASSERT_TRUE(a);
  ASSERT_TRUE(be->fill(*a + 2, 0x04030201, 3));  // unaligned start
  std::array<uint8_t, 16> b{};
  ASSERT_TRUE(be->copy_out(std::as_writable_bytes(std::span(b)), *a));
  EXPECT_EQ(b, (std::array<uint8_t, 16>{0, 0, 1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4, 0, 0}));
  ASSERT_TRUE(be->copy(*a + 1, *a, 12));  // overlapping, forward
  ASSERT_TRUE(be->copy_out(std::as_writable_bytes(std::span(b)), *a));
  EXPECT_EQ(b, (std::array<uint8_t, 16>{0, 0, 0, 1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 4, 0, 0}));
  const std::array<float, 4> x{1, 2, 3, 4}, y{10, 20, 30, 40};
  ASSERT_TRUE(be->copy_in(*a + 64, std::as_bytes(std::span(x))));
  ASSERT_TRUE(be->copy_in(*a + 128, std::as_bytes(std::span(y))));
  ASSERT_TRUE(be->saxpy(*a + 64, *a + 128, 4, 0.5f));
  std::array<float, 4> out{};
  ASSERT_TRUE(be->copy_out(std::as_writable_bytes(std::span(out)), *a + 128));
  EXPECT_EQ(out, (std::array<float, 4>{10.5f, 21, 31.5f, 42}));
  ASSERT_TRUE(be->copy_in(*a + 256, bytes("123456789")));
  EXPECT_EQ(*be->crc32c(*a + 256, 9, 0), kCrc32cCheck);
}

TEST_F(CpuBackendTest, RangesOutsideDeviceMemoryFailWithoutTouchingAnything) {
  std::array<std::byte, 8> buf{};
  EXPECT_EQ(be->copy_in(be->space() - 4, buf).error().code, EFAULT);
  EXPECT_EQ(be->copy_out(buf, ~0ull - 2).error().code, EFAULT);
  EXPECT_FALSE(be->fill(0, 1, ~0ull / 2));
  EXPECT_FALSE(be->copy(0, be->space(), 1));
  EXPECT_FALSE(be->saxpy(0, 0, ~0ull / 4 + 1, 1.0f));
  EXPECT_FALSE(be->crc32c(be->space(), 1, 0));
  EXPECT_FALSE(be->alloc(be->space() + 1));
}

}  // namespace
}  // namespace vgpu::compute
