// What our ioreq server has claimed with the hypervisor: the SBDF and one
// MMIO window per decoding BAR, kept as our own record so that an unmap
// always names the exact range that was mapped (Xen refuses a partial unmap
// with ENOENT, and would leave the rest routed to us).
//
// Thread-compatible: used from the event-loop thread only.
#pragma once

#include <array>
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
  // Releases every MMIO window, then the SBDF.
  ~Claims();
  Claims(const Claims&) = delete;
  Claims& operator=(const Claims&) = delete;

  Status claim_sbdf();
  // A restart (docs/spec.md §12): the dead daemon's claims are still our
  // server's. Claims the SBDF, taking Xen's EEXIST as "already ours".
  Status adopt_sbdf();

  // Makes BAR `index`'s claimed window match `now` (nullopt: claim none).
  // The exact old range is unmapped before the new one is mapped, so there
  // is never a moment when two ranges, or a range the guest has not
  // programmed, are ours. A failed map leaves nothing claimed for that BAR
  // and is returned. Xen's EEXIST means our server already holds the
  // window (a restart after a kill between claiming and saving): ours.
  Status move_bar(unsigned index, std::optional<pci::BarMapping> now);

  // The domain is gone and Xen has released our claims with it: drop the
  // records so that teardown makes no calls Xen can only refuse.
  void forget();

  std::optional<hv::MmioRange> mmio(unsigned index) const { return mmio_.at(index); }

 private:
  Status release(unsigned index);

  hv::Hypervisor& hv_;
  hv::ServerId server_;
  pci::Sbdf sbdf_;
  bool sbdf_claimed_ = false;
  std::array<std::optional<hv::MmioRange>, pci::kBarCount> mmio_{};
};

}  // namespace vgpu::host
