// hv::GuestMemory over foreign mappings of the target domain's frames.
// Private to src/xen. The mapping cache above it (dma::MappingCache) decides
// what to map and when; this adapter only makes the calls.
#pragma once

#include "vgpu/hv/hypervisor.h"
#include "xen_handles.h"

namespace vgpu::xen::detail {

// Borrows the handles; XenHypervisor owns them and outlives this object.
class XenGuestMemory final : public hv::GuestMemory {
 public:
  XenGuestMemory(xenforeignmemory_handle* fmem, xendevicemodel_handle* dmod, uint16_t domid)
      : fmem_(fmem), dmod_(dmod), domid_(domid) {}

  // One xenforeignmemory_map call for all of `gfns`, with its per-frame
  // error array.
  Result<std::byte*> map_frames(std::span<const uint64_t> gfns, std::span<int> errors) override;
  void unmap_frames(std::byte* addr, size_t frames) override;
  // One xendevicemodel_modified_memory_bulk call.
  Status mark_dirty(std::span<const hv::DirtyExtent> extents) override;

 private:
  xenforeignmemory_handle* fmem_;
  xendevicemodel_handle* dmod_;
  uint16_t domid_;
};

}  // namespace vgpu::xen::detail
