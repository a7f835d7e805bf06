#include "vgpu/host/claims.h"

#include <spdlog/spdlog.h>

#include "vgpu/common/release_log.h"
#include "vgpu/common/study_arm.h"

namespace vgpu::host {

Claims::~Claims() {
  log_release_failure("releasing BAR0 MMIO", release_mmio());
  if (sbdf_claimed_) {
    log_release_failure("releasing SBDF " + sbdf_.to_string(), hv_.unmap_pcidev(server_, sbdf_));
    sbdf_claimed_ = false;
  }
}

Status Claims::claim_sbdf() {
  if (sbdf_claimed_) return {};
  if (Status s = hv_.map_pcidev(server_, sbdf_); !s) return s;
  sbdf_claimed_ = true;
  spdlog::info("claimed PCI device {}", sbdf_.to_string());
  return {};
}

Status Claims::move_bar0(std::optional<pci::BarMapping> bar0) {
  std::optional<hv::MmioRange> want;
  if (bar0) want = hv::MmioRange{bar0->base, bar0->base + bar0->size - 1};
  if (want == mmio_) return {};
  if (study::is(study::Arm::kClaimKeep) && mmio_) return {};

  if (Status s = release_mmio(); !s) return s;
  if (!want) return {};
  if (Status s = hv_.map_mmio_range(server_, *want); !s) return s;
  mmio_ = want;
  spdlog::debug("claimed BAR0 MMIO {:#x}-{:#x}", want->first, want->last);
  return {};
}

Status Claims::release_mmio() {
  if (!mmio_) return {};
  const hv::MmioRange old = *mmio_;
  // Forget the range even if Xen refuses: retrying an unmap it refused once
  // would fail the same way, and the server's destruction releases it anyway.
  mmio_.reset();
  if (Status s = hv_.unmap_mmio_range(server_, old); !s) return s;
  spdlog::debug("released BAR0 MMIO {:#x}-{:#x}", old.first, old.last);
  return {};
}

}  // namespace vgpu::host
