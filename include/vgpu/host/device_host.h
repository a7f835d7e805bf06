// Connects one PCI device to the ioreq transport, for any device type.
//
// The transport speaks in SBDFs and guest-physical addresses; a device in
// config offsets and (BAR, offset) pairs. This layer translates between the
// two, answers accesses that are not the device's as an absent device
// would, turns the device's MSI into a hypervisor call, and tells a listener
// when a BAR's decoded window moves, so that the claims and XenStore follow:
// the device returns effects, this layer applies them.
//
// Thread-compatible: used from the event-loop thread only.
#pragma once

#include <array>
#include <memory>
#include <optional>

#include "vgpu/common/rate_limited_log.h"
#include "vgpu/hv/hypervisor.h"
#include "vgpu/ioreq/io_handler.h"
#include "vgpu/pci/pci_device.h"
#include "vgpu/pci/sbdf.h"

namespace vgpu::host {

// Told whenever the window the guest decodes for BAR `index` changes.
class BarListener {
 public:
  virtual ~BarListener() = default;
  virtual void bar_changed(unsigned index, std::optional<pci::BarMapping> now) = 0;
};

class DeviceHost final : public ioreq::IoHandler, public pci::MsiSink {
 public:
  DeviceHost(pci::Sbdf sbdf, hv::Hypervisor& hv, const pci::DeviceFactory& make_device);

  void set_bar_listener(BarListener* listener) { listener_ = listener; }
  const pci::PciDevice& device() const { return *device_; }
  pci::Sbdf sbdf() const { return sbdf_; }

  uint32_t config_read(uint32_t packed_sbdf, uint32_t offset, unsigned size) override;
  void config_write(uint32_t packed_sbdf, uint32_t offset, unsigned size, uint32_t value) override;
  uint64_t mmio_read(uint64_t addr, unsigned size) override;
  void mmio_write(uint64_t addr, unsigned size, uint64_t value) override;

  void send_msi(uint64_t address, uint32_t data) override;

 private:
  struct BarAccess {
    unsigned bar;
    uint64_t offset;
  };
  // The BAR whose live window wholly contains [addr, addr + size), if any.
  std::optional<BarAccess> locate(uint64_t addr, unsigned size) const;

  pci::Sbdf sbdf_;
  uint32_t packed_sbdf_;
  hv::Hypervisor& hv_;
  std::unique_ptr<pci::PciDevice> device_;
  // Each BAR's decoded window, refreshed from the device after the config
  // writes that change it, so an MMIO access need not ask the device.
  std::array<std::optional<pci::BarMapping>, pci::kBarCount> live_{};
  BarListener* listener_ = nullptr;
  RateLimitedLog stray_log_{"accesses answered as absent"};
  RateLimitedLog msi_failure_log_{"MSI injection failures", spdlog::level::err};
};

}  // namespace vgpu::host
