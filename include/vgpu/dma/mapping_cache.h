// dma::GuestDma over hv::GuestMemory, with a bounded cache of foreign
// mappings (docs/queue.md "Mapping cache").
//
// Frames are mapped in batches (one hv map call for up to kMaxBatchFrames
// frames, any gfns) and found again through a gfn index, so a warm cache
// maps nothing. Rings are pinned: never evicted, remapped lazily after an
// invalidation. Idle batches are evicted least recently used first once more
// than `max_frames` frames are mapped; a batch a session holds is never
// unmapped under it, and invalidate() waits for it instead.
//
// Thread-safe; every hv::GuestMemory call is made under the cache's lock.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "vgpu/dma/guest_dma.h"
#include "vgpu/hv/hypervisor.h"

namespace vgpu::dma {

struct CacheLimits {
  // Idle mappings kept, in frames: 160 MiB, enough for a 64 MiB WRITE and a
  // 64 MiB READ (and their scatter lists and the rings) to stay warm.
  uint64_t max_frames = 40960;
  // Frames per hv map call: 4 MiB, a 1024-entry scatter list of pages.
  uint32_t max_batch_frames = 1024;
};

struct CacheStats {
  uint64_t map_calls = 0;    // hv::GuestMemory::map_frames calls
  uint64_t unmap_calls = 0;  // hv::GuestMemory::unmap_frames calls
  uint64_t frames_mapped = 0;
  uint64_t hits = 0;    // frame lookups served by the cache
  uint64_t misses = 0;  // frames that had to be mapped
  uint64_t evictions = 0;
  uint64_t invalidations = 0;
  uint64_t dirty_calls = 0;  // hv::GuestMemory::mark_dirty calls
};

class MappingCache final : public GuestDma {
 public:
  explicit MappingCache(hv::GuestMemory& memory, CacheLimits limits = {});
  ~MappingCache() override;  // unmaps everything; no session may be open
  MappingCache(const MappingCache&) = delete;
  MappingCache& operator=(const MappingCache&) = delete;

  Result<RingId> pin_ring(GuestRange range) override;
  void unpin_ring(RingId id) override;
  std::unique_ptr<DmaSession> session() override;
  void invalidate() override;

  CacheStats stats() const;

 private:
  friend class CacheSession;
  struct Batch {
    std::byte* base = nullptr;
    uint32_t frames = 0;
    std::vector<uint64_t> indexed;  // gfns this batch answers for in index_
    uint32_t users = 0;
    bool doomed = false;  // unmapped when its last user goes
    uint64_t last_use = 0;
  };
  struct Slot {
    uint32_t batch = 0;
    uint32_t frame = 0;
  };
  struct Ring {
    GuestRange range;
    std::optional<uint32_t> batch;
  };
  struct Piece {
    std::byte* host;
    uint64_t len;
    uint64_t gpa;  // of the first byte
  };

  // All *_locked members expect mu_ held.
  Result<uint32_t> map_locked(std::span<const uint64_t> gfns, bool index, bool all_or_nothing);
  Status map_missing_locked(std::span<const GuestRange> ranges, std::vector<uint32_t>& held);
  Status resolve_locked(std::span<const GuestRange> ranges, std::vector<uint32_t>& held,
                        std::vector<Piece>* pieces);
  Result<std::byte*> ring_locked(RingId id, std::vector<uint32_t>& held);
  void acquire_locked(uint32_t id, std::vector<uint32_t>& held);
  void release_locked(std::span<const uint32_t> held);
  void doom_locked(uint32_t id);
  void unmap_locked(uint32_t id);
  void evict_locked();
  void mark_dirty_locked(std::span<const hv::DirtyExtent> extents);

  hv::GuestMemory& memory_;
  const CacheLimits limits_;
  mutable std::mutex mu_;
  std::condition_variable released_;
  std::unordered_map<uint64_t, Slot> index_;  // gfn -> where it is mapped
  std::unordered_map<uint32_t, Batch> batches_;
  std::map<RingId, Ring> rings_;
  uint32_t next_batch_ = 1;
  RingId next_ring_ = 1;
  uint64_t tick_ = 0;
  uint64_t doomed_live_ = 0;  // doomed batches still mapped (in use)
  CacheStats stats_;
};

}  // namespace vgpu::dma
