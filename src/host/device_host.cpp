#include "vgpu/host/device_host.h"

#include <stdexcept>

#include "vgpu/ioreq/dispatcher.h"

namespace vgpu::host {

DeviceHost::DeviceHost(pci::Sbdf sbdf, hv::Hypervisor& hv, const pci::DeviceFactory& make_device,
                       dma::GuestDma& dma)
    : sbdf_(sbdf),
      packed_sbdf_(sbdf.packed()),
      hv_(hv),
      device_(make_device(pci::DeviceContext{*this, dma, *this})) {
  if (!device_) throw std::invalid_argument("the device factory built no device");
}

uint32_t DeviceHost::config_read(uint32_t packed_sbdf, uint32_t offset, unsigned size) {
  // Xen routes only the SBDF we claimed; anything else is absent: all ones.
  if (packed_sbdf != packed_sbdf_) {
    stray_log_("config read of another SBDF {:#x} at {:#x} size {} answered as absent", packed_sbdf,
               offset, size);
    return static_cast<uint32_t>(ioreq::all_ones(size));
  }
  return device_->config_read(offset, size);
}

void DeviceHost::config_write(uint32_t packed_sbdf, uint32_t offset, unsigned size,
                              uint32_t value) {
  if (packed_sbdf != packed_sbdf_) {
    stray_log_("config write to another SBDF {:#x} at {:#x} size {} dropped", packed_sbdf, offset,
               size);
    return;
  }
  const pci::ConfigWriteEffects effects = device_->config_write(offset, size, value);
  for (unsigned i = 0; i < pci::kBarCount; ++i) {
    if (!effects.bar_changed(i)) continue;
    live_[i] = device_->bar_mapping(i);
    if (listener_) listener_->bar_changed(i, live_[i]);
  }
}

uint64_t DeviceHost::mmio_read(uint64_t addr, unsigned size) {
  if (auto at = locate(addr, size)) return device_->bar_read(at->bar, at->offset, size);
  stray_log_("MMIO read outside every BAR at {:#x} size {} answered as absent", addr, size);
  return ioreq::all_ones(size);
}

void DeviceHost::mmio_write(uint64_t addr, unsigned size, uint64_t value) {
  if (auto at = locate(addr, size)) return device_->bar_write(at->bar, at->offset, size, value);
  stray_log_("MMIO write outside every BAR at {:#x} size {} dropped", addr, size);
}

Status DeviceHost::restore(std::span<const std::byte> saved) {
  StateReader in(saved);
  if (Status s = device_->restore_state(in); !s) return s;
  for (unsigned i = 0; i < pci::kBarCount; ++i) {
    live_[i] = device_->bar_mapping(i);
    if (listener_) listener_->bar_changed(i, live_[i]);
  }
  return ok_status();
}

void DeviceHost::send_msi(uint64_t address, uint32_t data) {
  if (Status s = hv_.inject_msi(address, data); !s)
    msi_failure_log_("injecting MSI addr={:#x} data={:#x}: {}", address, data,
                     s.error().describe());
}

void DeviceHost::status_changed(std::string_view key, std::string_view value) {
  if (listener_) listener_->device_status(key, value);
}

std::optional<DeviceHost::BarAccess> DeviceHost::locate(uint64_t addr, unsigned size) const {
  for (unsigned i = 0; i < pci::kBarCount; ++i) {
    const auto& bar = live_[i];
    if (!bar || addr < bar->base) continue;
    const uint64_t off = addr - bar->base;
    if (off < bar->size && size <= bar->size - off) return BarAccess{i, off};
  }
  return std::nullopt;
}

}  // namespace vgpu::host
