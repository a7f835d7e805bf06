// Connects one PCI device to the ioreq transport, for any device type.
//
// The transport speaks in SBDFs and guest-physical addresses; a device in
// config offsets and (BAR, offset) pairs. This layer translates between the
// two, answers accesses that are not the device's as an absent device
// would, turns the device's MSI into a hypervisor call, and tells a listener
// when a BAR's decoded window moves (so that the claims and XenStore follow:
// the device returns effects, this layer applies them) and when the device
// reports a new status.
//
// Thread-compatible: used from the event-loop thread only.
#pragma once

#include <array>
#include <memory>
#include <optional>

#include "vgpu/common/rate_limited_log.h"
#include "vgpu/dma/guest_dma.h"
#include "vgpu/hv/hypervisor.h"
#include "vgpu/ioreq/io_handler.h"
#include "vgpu/pci/pci_device.h"
#include "vgpu/pci/sbdf.h"

namespace vgpu::host {

// Told, on the loop thread, of what the daemon publishes or acts on.
class HostListener {
 public:
  virtual ~HostListener() = default;
  // The window the guest decodes for BAR `index` changed.
  virtual void bar_changed(unsigned index, std::optional<pci::BarMapping> now) = 0;
  // The device reported a new value for one of its status keys.
  virtual void device_status(std::string_view key, std::string_view value) = 0;
};

class DeviceHost final : public ioreq::IoHandler, public pci::MsiSink, public pci::StatusSink {
 public:
  // Builds the device in this host's context; `dma` must outlive the host.
  DeviceHost(pci::Sbdf sbdf, hv::Hypervisor& hv, const pci::DeviceFactory& make_device,
             dma::GuestDma& dma);

  void set_listener(HostListener* listener) { listener_ = listener; }
  pci::PciDevice& device() { return *device_; }
  const pci::PciDevice& device() const { return *device_; }
  pci::Sbdf sbdf() const { return sbdf_; }

  uint32_t config_read(uint32_t packed_sbdf, uint32_t offset, unsigned size) override;
  void config_write(uint32_t packed_sbdf, uint32_t offset, unsigned size, uint32_t value) override;
  uint64_t mmio_read(uint64_t addr, unsigned size) override;
  void mmio_write(uint64_t addr, unsigned size, uint64_t value) override;

  // Restart (docs/spec.md §12): the device as save_state() left it, then
  // every BAR's window as it now decodes, told to the listener.
  Status restore(std::span<const std::byte> saved);

  void send_msi(uint64_t address, uint32_t data) override;
  void status_changed(std::string_view key, std::string_view value) override;

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
  HostListener* listener_ = nullptr;
  RateLimitedLog stray_log_{"accesses answered as absent"};
  RateLimitedLog msi_failure_log_{"MSI injection failures", spdlog::level::err};
};

}  // namespace vgpu::host
