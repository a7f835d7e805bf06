#include "vgpu/host/device_host.h"

#include <spdlog/spdlog.h>

#include "vgpu/ioreq/dispatcher.h"

namespace vgpu::host {

DeviceHost::DeviceHost(pci::Sbdf sbdf, const device::StubConfig& config, hv::Hypervisor& hv)
    : sbdf_(sbdf), packed_sbdf_(sbdf.packed()), hv_(hv), stub_(config, *this) {}

uint32_t DeviceHost::config_read(uint32_t packed_sbdf, uint32_t offset, unsigned size) {
  // Xen routes only the SBDF we claimed; anything else is absent: all ones.
  if (packed_sbdf != packed_sbdf_) {
    log_stray("config read of another SBDF", packed_sbdf, size);
    return static_cast<uint32_t>(ioreq::all_ones(size));
  }
  return stub_.config_read(offset, size);
}

void DeviceHost::config_write(uint32_t packed_sbdf, uint32_t offset, unsigned size,
                              uint32_t value) {
  if (packed_sbdf != packed_sbdf_) {
    log_stray("config write to another SBDF", packed_sbdf, size);
    return;
  }
  const pci::ConfigWriteEffects effects = stub_.config_write(offset, size, value);
  if ((effects.bars_changed & 1u) && listener_) listener_->bar0_changed(stub_.bar0());
}

uint64_t DeviceHost::mmio_read(uint64_t addr, unsigned size) {
  if (auto off = bar0_offset(addr, size)) return stub_.bar0_read(*off, size);
  log_stray("MMIO read outside BAR0", addr, size);
  return ioreq::all_ones(size);
}

void DeviceHost::mmio_write(uint64_t addr, unsigned size, uint64_t value) {
  if (auto off = bar0_offset(addr, size)) return stub_.bar0_write(*off, size, value);
  log_stray("MMIO write outside BAR0", addr, size);
}

void DeviceHost::send_msi(uint64_t address, uint32_t data) {
  ++msis_sent_;
  if (Status s = hv_.inject_msi(address, data); !s)
    spdlog::error("injecting MSI addr={:#x} data={:#x}: {}", address, data, s.error().describe());
}

std::optional<uint64_t> DeviceHost::bar0_offset(uint64_t addr, unsigned size) const {
  const auto bar = stub_.bar0();
  if (!bar || addr < bar->base) return std::nullopt;
  const uint64_t off = addr - bar->base;
  if (off >= bar->size || size > bar->size - off) return std::nullopt;
  return off;
}

void DeviceHost::log_stray(const char* what, uint64_t where, unsigned size) {
  uint64_t dropped = 0;
  if (stray_log_.allow(&dropped))
    spdlog::warn("{} at {:#x} size {} answered as absent{}", what, where, size,
                 dropped ? fmt::format(" ({} similar lines suppressed)", dropped) : "");
}

}  // namespace vgpu::host
