// What our ioreq server has claimed with the hypervisor: the SBDF and the
// BAR0 window, kept as our own record (pitfall 9) so that an unmap always
// names the exact range that was mapped.
//
// Thread-compatible: used from the event-loop thread only.
#pragma once

#include <optional>

#include "vgpu/common/result.h"
#include "vgpu/hv/hypervisor.h"
#include "vgpu/pci/config_space.h"
#include "vgpu/pci/sbdf.h"

namespace vgpu::host {

class Claims {
 public:
  Claims(hv::Hypervisor& hv, hv::ServerId server, pci::Sbdf sbdf)
      : hv_(hv), server_(server), sbdf_(sbdf) {}
  // Releases the MMIO window, then the SBDF.
  ~Claims();
  Claims(const Claims&) = delete;
  Claims& operator=(const Claims&) = delete;

  Status claim_sbdf();

  // Makes the claimed window match `bar0` (nullopt: claim none). The exact
  // old range is unmapped before the new one is mapped, so there is never a
  // moment when two ranges, or a range the guest has not programmed, are
  // ours. A failed map leaves nothing claimed and is returned.
  Status move_bar0(std::optional<pci::BarMapping> bar0);

  // The domain is gone and Xen has released our claims with it: drop the
  // records so that teardown makes no calls Xen can only refuse.
  void forget() {
    sbdf_claimed_ = false;
    mmio_.reset();
  }

  bool sbdf_claimed() const { return sbdf_claimed_; }
  std::optional<hv::MmioRange> mmio() const { return mmio_; }

 private:
  Status release_mmio();

  hv::Hypervisor& hv_;
  hv::ServerId server_;
  pci::Sbdf sbdf_;
  bool sbdf_claimed_ = false;
  std::optional<hv::MmioRange> mmio_;
};

}  // namespace vgpu::host
