// hv::GuestMemory over foreign mappings of the target domain's pages, for
// ioreqs whose data_is_ptr is set. Private to src/xen.
#pragma once

#include "vgpu/hv/hypervisor.h"
#include "xen_handles.h"

namespace vgpu::xen::detail {

// Borrows the handles; XenHypervisor owns them and outlives this object.
// Each call maps the pages it needs, copies and unmaps: data_is_ptr requests
// are rare (rep ins/outs, rep movs between RAM and MMIO), so a cache of
// mappings would buy little and would have to track ballooning.
class XenGuestMemory final : public hv::GuestMemory {
 public:
  XenGuestMemory(xenforeignmemory_handle* fmem, xendevicemodel_handle* dmod, uint16_t domid)
      : fmem_(fmem), dmod_(dmod), domid_(domid) {}

  Status read(uint64_t gpa, std::span<std::byte> out) override;
  // Marks the written pages dirty (xendevicemodel_modified_memory) so that
  // live migration resends them.
  Status write(uint64_t gpa, std::span<const std::byte> in) override;

 private:
  xenforeignmemory_handle* fmem_;
  xendevicemodel_handle* dmod_;
  uint16_t domid_;
};

}  // namespace vgpu::xen::detail
