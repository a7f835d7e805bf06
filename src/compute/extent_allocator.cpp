#include "vgpu/compute/extent_allocator.h"

#include <iterator>

namespace vgpu::compute {

ExtentAllocator::ExtentAllocator(uint64_t space, uint64_t align)
    : space_(space / align * align), align_(align) {
  if (space_ != 0) free_[0] = space_;
}

std::optional<uint64_t> ExtentAllocator::allocate(uint64_t bytes) {
  if (bytes == 0 || bytes > space_) return std::nullopt;
  const uint64_t need = (bytes + align_ - 1) / align_ * align_;
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    if (it->second < need) continue;
    const uint64_t start = it->first;
    const uint64_t rest = it->second - need;
    free_.erase(it);
    if (rest != 0) free_[start + need] = rest;
    used_[start] = need;
    return start;
  }
  return std::nullopt;
}

bool ExtentAllocator::reserve(uint64_t start, uint64_t bytes) {
  if (bytes == 0 || bytes > space_ || start % align_ != 0) return false;
  const uint64_t need = (bytes + align_ - 1) / align_ * align_;
  auto hole = free_.upper_bound(start);
  if (hole == free_.begin()) return false;
  --hole;  // the last hole starting at or before `start`
  const uint64_t hole_start = hole->first;
  const uint64_t hole_len = hole->second;
  if (start - hole_start > hole_len || need > hole_len - (start - hole_start)) return false;
  free_.erase(hole);
  if (start != hole_start) free_[hole_start] = start - hole_start;
  const uint64_t after = hole_start + hole_len - (start + need);
  if (after != 0) free_[start + need] = after;
  used_[start] = need;
  return true;
}

bool ExtentAllocator::release(uint64_t start) {
  auto u = used_.find(start);
  if (u == used_.end()) return false;
  uint64_t len = u->second;
  used_.erase(u);
  auto next = free_.lower_bound(start);
  if (next != free_.end() && next->first == start + len) {
    len += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == start) {
      prev->second += len;
      return true;
    }
  }
  free_[start] = len;
  return true;
}

uint64_t ExtentAllocator::size_of(uint64_t start) const {
  auto u = used_.find(start);
  return u == used_.end() ? 0 : u->second;
}

}  // namespace vgpu::compute
