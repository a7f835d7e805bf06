// Device-memory handles of one guest: what each names, and the guest's quota
// (MEM_TOTAL / MEM_FREE) and handle limit. Handles carry a generation, so a
// handle used after FREE never names a later allocation.
//
// The table is plain, trivially copyable entries, so that it could be kept
// in memory that outlives the process (docs/queue.md "Restart").
//
// Thread-compatible: the queue's lock guards it.
#pragma once

#include <cstdint>
#include <optional>
#include <type_traits>
#include <vector>

#include "vgpu/common/result.h"
#include "vgpu/common/state_buffer.h"

namespace vgpu::queue {

struct HandleEntry {
  uint64_t addr = 0;     // device address (compute::DevAddr)
  uint64_t size = 0;     // bytes the guest asked for
  uint64_t charged = 0;  // size rounded up to the allocation granule
  uint32_t generation = 0;
  uint32_t live = 0;
};
static_assert(std::is_trivially_copyable_v<HandleEntry>);

class HandleTable {
 public:
  HandleTable(uint64_t mem_limit, uint64_t granule, uint32_t max_handles);

  // What an allocation of `bytes` costs against the quota, or nullopt when it
  // could never fit (more than MEM_TOTAL, or 0).
  std::optional<uint64_t> charge_for(uint64_t bytes) const;
  bool full() const { return live_ >= max_handles_; }

  // Records an allocation; the caller checked quota and handle limit.
  uint64_t insert(uint64_t addr, uint64_t size, uint64_t charged);
  const HandleEntry* find(uint64_t handle) const;
  std::optional<HandleEntry> remove(uint64_t handle);
  // Every live entry, for freeing all device memory.
  std::vector<HandleEntry> live_entries() const;
  void clear();

  // Restart (docs/spec.md §12). save() writes the live entries with their
  // slot numbers and the highest generation ever given; restore() rebuilds
  // an empty table from that, checking limits (EINVAL on any violation),
  // so every handle the guest holds names the same memory again and no
  // handle from before can name a later allocation.
  void save(StateWriter& out) const;
  vgpu::Status restore(StateReader& in);

  uint64_t total() const { return mem_limit_; }
  uint64_t free() const { return mem_limit_ - charged_; }
  uint32_t live() const { return live_; }

 private:
  uint64_t mem_limit_;
  uint64_t granule_;
  uint32_t max_handles_;
  uint64_t charged_ = 0;
  uint32_t live_ = 0;
  std::vector<HandleEntry> entries_;  // index = (handle & 0xffffffff) - 1
  std::vector<uint32_t> free_slots_;
  uint32_t generation_floor_ = 0;  // where a new slot's generations start
};

}  // namespace vgpu::queue
