// First-fit allocation of aligned extents in an address space, with
// coalescing of freed neighbours. Used by the CPU backend for device memory;
// its whole state follows from the live extents, so a restarted process can
// rebuild it from the queue's handle table.
//
// Thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <optional>

namespace vgpu::compute {

class ExtentAllocator {
 public:
  // [0, space) in units of `align` (a power of two); space is rounded down.
  ExtentAllocator(uint64_t space, uint64_t align);

  // The start of a free extent of `bytes` rounded up to the alignment, or
  // nullopt when no hole is large enough (or bytes is 0).
  std::optional<uint64_t> allocate(uint64_t bytes);
  // Releases an extent allocate() returned; false if `start` is not one.
  bool release(uint64_t start);
  // Marks [start, start + bytes rounded up) used, as allocate() would have
  // returned it; false (and no change) unless start is aligned, bytes is not
  // 0 and the whole extent lies in one free hole.
  bool reserve(uint64_t start, uint64_t bytes);
  // Size of the live extent at `start` (rounded), or 0.
  uint64_t size_of(uint64_t start) const;

  uint64_t space() const { return space_; }
  uint64_t align() const { return align_; }
  size_t live() const { return used_.size(); }

 private:
  uint64_t space_;
  uint64_t align_;
  std::map<uint64_t, uint64_t> free_;  // start -> length, non-adjacent
  std::map<uint64_t, uint64_t> used_;  // start -> length
};

}  // namespace vgpu::compute
