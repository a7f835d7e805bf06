#include "vgpu/host/claims.h"

#include <spdlog/spdlog.h>

#include "vgpu/common/release_log.h"
#include "vgpu/common/study_arm.h"

namespace vgpu::host {

Claims::~Claims() {
  for (unsigned i = 0; i < pci::kBarCount; ++i)
    log_release_failure("releasing BAR" + std::to_string(i) + " MMIO", release(i));
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

Status Claims::adopt_sbdf() {
  if (Status s = hv_.map_pcidev(server_, sbdf_); !s && s.error().code != EEXIST) return s;
  sbdf_claimed_ = true;
  return {};
}

void Claims::forget() {
  sbdf_claimed_ = false;
  mmio_.fill(std::nullopt);
}

Status Claims::move_bar(unsigned index, std::optional<pci::BarMapping> now) {
  std::optional<hv::MmioRange> want;
  if (now) want = hv::MmioRange{now->base, now->base + now->size - 1};
  if (want == mmio_.at(index)) return {};
  if (study::is(study::Arm::kClaimKeep) && mmio_.at(index)) return {};

  if (Status s = release(index); !s) return s;
  if (!want) return {};
  if (Status s = hv_.map_mmio_range(server_, *want); !s && s.error().code != EEXIST) return s;
  // No log line here: a guest can move BARs in a loop; the daemon logs
  // placements and failures, rate-limited.
  mmio_[index] = want;
  return {};
}

Status Claims::release(unsigned index) {
  if (!mmio_.at(index)) return {};
  const hv::MmioRange old = *mmio_[index];
  // Forget the range even if Xen refuses: retrying an unmap it refused once
  // would fail the same way, and the server's destruction releases it anyway.
  mmio_[index].reset();
  return hv_.unmap_mmio_range(server_, old);
}

}  // namespace vgpu::host
