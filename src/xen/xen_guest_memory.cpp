#include "xen_guest_memory.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

namespace vgpu::xen::detail {

Result<std::byte*> XenGuestMemory::map_frames(std::span<const uint64_t> gfns,
                                              std::span<int> errors) {
  if (gfns.empty() || errors.size() != gfns.size()) return Error{EINVAL, "map_frames: bad arrays"};
  std::vector<xen_pfn_t> arr(gfns.begin(), gfns.end());
  void* addr = xenforeignmemory_map(fmem_, domid_, PROT_READ | PROT_WRITE, arr.size(), arr.data(),
                                    errors.data());
  if (addr == nullptr) {
    return call_error("xenforeignmemory_map", domid_,
                      fmt::format("{} frames from gfn {}", arr.size(), hex(arr.front())));
  }
  // privcmd reports per-frame failures as negative errnos.
  for (int& e : errors) e = std::abs(e);
  return static_cast<std::byte*>(addr);
}

void XenGuestMemory::unmap_frames(std::byte* addr, size_t frames) {
  if (xenforeignmemory_unmap(fmem_, addr, frames) < 0) {
    spdlog::warn("xenforeignmemory_unmap of {} guest frames failed: {}", frames,
                 std::strerror(errno));
  }
}

Status XenGuestMemory::mark_dirty(std::span<const hv::DirtyExtent> extents) {
  if (extents.empty()) return ok_status();
  std::vector<xen_dm_op_modified_memory_extent> ext;
  ext.reserve(extents.size());
  for (const hv::DirtyExtent& e : extents) {
    if (e.count > std::numeric_limits<uint32_t>::max())
      return Error{EINVAL, "dirty extent too big"};
    xen_dm_op_modified_memory_extent x{};
    x.nr = static_cast<uint32_t>(e.count);
    x.first_pfn = e.first_gfn;
    ext.push_back(x);
  }
  if (xendevicemodel_modified_memory_bulk(dmod_, domid_, ext.data(),
                                          static_cast<uint32_t>(ext.size())) < 0) {
    return call_error("modified_memory_bulk", domid_, fmt::format("{} extents", ext.size()));
  }
  return ok_status();
}

}  // namespace vgpu::xen::detail
