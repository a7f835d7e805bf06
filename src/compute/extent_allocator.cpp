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
