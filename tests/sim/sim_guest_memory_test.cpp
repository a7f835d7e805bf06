// The simulated guest RAM's foreign mappings behave as xenforeignmemory_map's:
// any frames at consecutive host pages, per-frame errors, aliasing with the
// guest's own view, exact unmaps, and counters tests can rely on.
#include "vgpu/sim/sim_guest_memory.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <vector>

namespace vgpu::sim {
namespace {

constexpr uint64_t kPage = 4096;

TEST(SimGuestMemory, MapsAnyFramesAtConsecutiveHostPagesAliasingTheGuestsView) {
  SimGuestMemory ram(8 * kPage);
  const uint32_t a = 0x11111111, b = 0x22222222;
  ASSERT_TRUE(ram.guest_write(5 * kPage, std::as_bytes(std::span(&a, 1))));
  ASSERT_TRUE(ram.guest_write(2 * kPage + 8, std::as_bytes(std::span(&b, 1))));
  const std::array<uint64_t, 2> gfns{5, 2};
  std::array<int, 2> errors{-1, -1};
  auto base = ram.map_frames(gfns, errors);
  ASSERT_TRUE(base);
  EXPECT_EQ(errors, (std::array<int, 2>{0, 0}));
  uint32_t v = 0;
  std::memcpy(&v, *base, 4);
  EXPECT_EQ(v, a) << "host page 0 is gfn 5";
  std::memcpy(&v, *base + kPage + 8, 4);
  EXPECT_EQ(v, b) << "host page 1 is gfn 2";
  const uint32_t c = 0x33333333;
  std::memcpy(*base + kPage + 8, &c, 4);  // the device writes; the guest sees it
  ASSERT_TRUE(ram.guest_read(2 * kPage + 8, std::as_writable_bytes(std::span(&v, 1))));
  EXPECT_EQ(v, c);
  EXPECT_EQ(ram.map_calls(), 1u);
  EXPECT_EQ(ram.frames_mapped(), 2u);
  ram.unmap_frames(*base, 2);
  EXPECT_EQ(ram.unmap_calls(), 1u);
  EXPECT_EQ(ram.live_mappings(), 0u);
  EXPECT_TRUE(ram.misuse().empty());
}

TEST(SimGuestMemory, AFrameOutsideRamFailsAloneAndTheRestIsMapped) {
  SimGuestMemory ram(4 * kPage);
  const std::array<uint64_t, 3> gfns{1, 99, 2};
  std::array<int, 3> errors{};
  auto base = ram.map_frames(gfns, errors);
  ASSERT_TRUE(base);
  EXPECT_EQ(errors[0], 0);
  EXPECT_EQ(errors[1], EINVAL);
  EXPECT_EQ(errors[2], 0);
  ram.unmap_frames(*base, 3);
  const std::array<uint64_t, 1> none{1ull << 40};
  std::array<int, 1> err{};
  EXPECT_FALSE(ram.map_frames(none, err)) << "nothing mappable: the call fails";
  EXPECT_EQ(ram.map_calls(), 2u) << "failed calls count too";
}

TEST(SimGuestMemory, UnmapMustNameALiveMappingExactly) {
  SimGuestMemory ram(4 * kPage);
  const std::array<uint64_t, 2> gfns{0, 1};
  std::array<int, 2> errors{};
  auto base = ram.map_frames(gfns, errors);
  ASSERT_TRUE(base);
  ram.unmap_frames(*base, 1);
  EXPECT_EQ(ram.misuse().size(), 1u);
  ram.unmap_frames(*base, 2);
  EXPECT_EQ(ram.misuse().size(), 1u);
  EXPECT_EQ(ram.live_mappings(), 0u);
}

TEST(SimGuestMemory, MarkDirtyRecordsFramesAndRejectsExtentsOutsideRam) {
  SimGuestMemory ram(8 * kPage);
  const std::array<hv::DirtyExtent, 2> ext{hv::DirtyExtent{1, 2}, hv::DirtyExtent{6, 1}};
  ASSERT_TRUE(ram.mark_dirty(ext));
  EXPECT_EQ(ram.dirty_pfns(), (std::vector<uint64_t>{1, 2, 6}));
  const std::array<hv::DirtyExtent, 1> bad{hv::DirtyExtent{7, 2}};
  EXPECT_FALSE(ram.mark_dirty(bad));
}

TEST(SimGuestMemory, AfterTheDomainIsGoneMapsFailEsrchButMappingsStay) {
  SimGuestMemory ram(4 * kPage);
  const std::array<uint64_t, 1> gfns{3};
  std::array<int, 1> errors{};
  auto base = ram.map_frames(gfns, errors);
  ASSERT_TRUE(base);
  ram.mark_domain_gone();
  std::array<int, 1> e2{};
  auto again = ram.map_frames(gfns, e2);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ESRCH);
  (*base)[0] = std::byte{1};  // still mapped: a foreign mapping holds its page
  ram.unmap_frames(*base, 1);
}

}  // namespace
}  // namespace vgpu::sim
