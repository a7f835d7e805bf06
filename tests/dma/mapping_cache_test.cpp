// The mapping cache: batch maps, warm hits, bound and eviction, pinned
// rings, invalidation that waits for a mapping in use, dirty tracking.
#include "vgpu/dma/mapping_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "vgpu/sim/sim_guest_memory.h"

namespace vgpu::dma {
namespace {

constexpr uint64_t kPage = 4096;

class MappingCacheTest : public ::testing::Test {
 protected:
  sim::SimGuestMemory ram{256 * kPage};
};

// Guest ranges of whole pages at the given frames.
std::vector<GuestRange> pages(std::initializer_list<uint64_t> gfns) {
  std::vector<GuestRange> r;
  for (uint64_t g : gfns) r.push_back({g * kPage, kPage});
  return r;
}

TEST_F(MappingCacheTest, ScatteredPagesAreMappedInOneCallThenServedWarm) {
  MappingCache cache(ram);
  const auto ranges = pages({7, 3, 200, 4, 3});
  {
    auto s = cache.session();
    ASSERT_TRUE(s->prefetch(ranges));
  }
  EXPECT_EQ(ram.map_calls(), 1u);
  EXPECT_EQ(ram.frames_mapped(), 4u) << "gfn 3 named twice is mapped once";
  auto s = cache.session();
  uint64_t seen = 0;
  ASSERT_TRUE(
      s->visit(ranges, Direction::kFromGuest, [&](std::span<std::byte> p) { seen += p.size(); }));
  EXPECT_EQ(seen, 5 * kPage);
  EXPECT_EQ(ram.map_calls(), 1u) << "warm: no map call";
  EXPECT_EQ(cache.stats().hits, 5u);
}

TEST_F(MappingCacheTest, BatchesAreCappedAtTheBatchLimit) {
  MappingCache cache(ram, CacheLimits{1024, 16});
  auto s = cache.session();
  ASSERT_TRUE(s->prefetch(std::vector<GuestRange>{{0, 40 * kPage}}));
  EXPECT_EQ(ram.map_calls(), 3u) << "40 frames in batches of 16";
}

TEST_F(MappingCacheTest, CopiesCrossPagesAndWritesMarkDirtyOncePerSession) {
  MappingCache cache(ram);
  const char text[] = "crosses a page boundary";
  {
    auto s = cache.session();
    ASSERT_TRUE(s->write(2 * kPage - 5, std::as_bytes(std::span(text))));
    EXPECT_TRUE(ram.dirty_pfns().empty()) << "reported when the session ends";
  }
  EXPECT_EQ(ram.dirty_pfns(), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(cache.stats().dirty_calls, 1u);
  char back[sizeof text] = {};
  ASSERT_TRUE(ram.guest_read(2 * kPage - 5, std::as_writable_bytes(std::span(back))));
  EXPECT_STREQ(back, text);
}

TEST_F(MappingCacheTest, UnmappableAndWrappingRangesFailBeforeAnyByteMoves) {
  MappingCache cache(ram);
  auto s = cache.session();
  bool called = false;
  auto fn = [&](std::span<std::byte>) { called = true; };
  const std::vector<GuestRange> outside{{0, kPage}, {1000 * kPage, 8}};
  Status st = s->visit(outside, Direction::kToGuest, fn);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, EFAULT);
  const std::vector<GuestRange> wrap{{~0ull - 4, 16}};
  st = s->visit(wrap, Direction::kFromGuest, fn);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, EINVAL);
  const std::vector<GuestRange> huge{{0, 1ull << 40}};
  EXPECT_EQ(s->visit(huge, Direction::kFromGuest, fn).error().code, E2BIG);
  EXPECT_FALSE(called);
}

TEST_F(MappingCacheTest, IdleBatchesAreEvictedLeastRecentlyUsedFirstOverTheBound) {
  MappingCache cache(ram, CacheLimits{8, 4});
  for (uint64_t g = 0; g < 16; g += 4) {
    auto s = cache.session();
    ASSERT_TRUE(s->prefetch(std::vector<GuestRange>{{g * kPage, 4 * kPage}}));
  }
  EXPECT_LE(ram.frames_mapped(), 8u);
  EXPECT_GE(cache.stats().evictions, 2u);
  auto s = cache.session();
  ASSERT_TRUE(s->prefetch(pages({12})));
  EXPECT_EQ(ram.map_calls(), 4u) << "the newest batch is still cached";
  ASSERT_TRUE(s->prefetch(pages({0})));
  EXPECT_EQ(ram.map_calls(), 5u) << "the oldest was evicted";
}

TEST_F(MappingCacheTest, PinnedRingSurvivesEvictionAndIsRemappedAfterInvalidate) {
  MappingCache cache(ram, CacheLimits{4, 4});
  auto ring = cache.pin_ring({100 * kPage, 2 * kPage});
  ASSERT_TRUE(ring);
  for (uint64_t g = 0; g < 32; g += 4) {
    auto s = cache.session();
    ASSERT_TRUE(s->prefetch(std::vector<GuestRange>{{g * kPage, 4 * kPage}}));
  }
  const uint64_t maps = ram.map_calls();
  {
    auto s = cache.session();
    ASSERT_TRUE(s->ring(*ring));
  }
  EXPECT_EQ(ram.map_calls(), maps) << "rings are never evicted";
  cache.invalidate();
  EXPECT_EQ(ram.live_mappings(), 0u);
  {
    auto s = cache.session();
    auto at = s->ring(*ring);
    ASSERT_TRUE(at);
    uint32_t v = 0x5a5a5a5a;
    std::memcpy(*at + kPage, &v, 4);
    s->ring_written(*ring, kPage, 4);
  }
  EXPECT_EQ(ram.map_calls(), maps + 1);
  EXPECT_EQ(ram.dirty_pfns(), (std::vector<uint64_t>{101}));
  cache.unpin_ring(*ring);
  EXPECT_EQ(ram.live_mappings(), 0u);
}

TEST_F(MappingCacheTest, PinningAnUnmappableRingFails) {
  MappingCache cache(ram);
  auto ring = cache.pin_ring({255 * kPage, 2 * kPage});
  ASSERT_FALSE(ring);
  EXPECT_EQ(ring.error().code, EFAULT);
  EXPECT_EQ(ram.live_mappings(), 0u);
}

// A mapping in use on another thread is not unmapped under it: invalidate()
// returns only once that session ends.
TEST_F(MappingCacheTest, InvalidateWaitsForASessionInUseOnAnotherThread) {
  MappingCache cache(ram);
  std::atomic<bool> holding{false};
  std::atomic<bool> invalidated{false};
  std::atomic<bool> saw_invalidated_while_holding{false};
  std::thread user([&] {
    auto s = cache.session();
    ASSERT_TRUE(s->visit(pages({9}), Direction::kToGuest, [&](std::span<std::byte> p) {
      holding = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      p[0] = std::byte{0x42};  // still mapped
      saw_invalidated_while_holding = invalidated.load();
    }));
  });
  while (!holding) std::this_thread::yield();
  cache.invalidate();
  invalidated = true;
  user.join();
  EXPECT_FALSE(saw_invalidated_while_holding);
  EXPECT_EQ(ram.live_mappings(), 0u);
  EXPECT_TRUE(ram.misuse().empty());
}

TEST_F(MappingCacheTest, DestructionUnmapsEverything) {
  {
    MappingCache cache(ram);
    ASSERT_TRUE(cache.pin_ring({0, kPage}));
    ASSERT_TRUE(cache.session()->prefetch(pages({1, 2})));
  }
  EXPECT_EQ(ram.live_mappings(), 0u);
  EXPECT_EQ(ram.map_calls(), ram.unmap_calls());
}

}  // namespace
}  // namespace vgpu::dma
