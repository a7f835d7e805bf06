// Connects the vGPU stub to the ioreq transport.
//
// The transport speaks in SBDFs and guest-physical addresses; the device in
// config offsets and BAR offsets (style.md habit 4). This layer translates,
// answers accesses that are not the device's, turns the device's MSI into a
// hypervisor call, and tells a listener when BAR0's window moves, so that
// the claims and XenStore follow (habit 3: the device returns effects, this
// layer applies them).
//
// Thread-compatible: used from the event-loop thread only.
#pragma once

#include <optional>

#include "vgpu/common/rate_limiter.h"
#include "vgpu/device/vgpu_stub.h"
#include "vgpu/hv/hypervisor.h"
#include "vgpu/ioreq/io_handler.h"
#include "vgpu/pci/sbdf.h"

namespace vgpu::host {

// Told whenever the window the guest decodes for BAR0 changes.
class Bar0Listener {
 public:
  virtual ~Bar0Listener() = default;
  virtual void bar0_changed(std::optional<pci::BarMapping> now) = 0;
};

class DeviceHost final : public ioreq::IoHandler, public device::MsiSink {
 public:
  DeviceHost(pci::Sbdf sbdf, const device::StubConfig& config, hv::Hypervisor& hv);

  void set_bar0_listener(Bar0Listener* listener) { listener_ = listener; }
  const device::VgpuStub& device() const { return stub_; }
  pci::Sbdf sbdf() const { return sbdf_; }
  uint64_t msis_sent() const { return msis_sent_; }

  uint32_t config_read(uint32_t packed_sbdf, uint32_t offset, unsigned size) override;
  void config_write(uint32_t packed_sbdf, uint32_t offset, unsigned size, uint32_t value) override;
  uint64_t mmio_read(uint64_t addr, unsigned size) override;
  void mmio_write(uint64_t addr, unsigned size, uint64_t value) override;

  void send_msi(uint64_t address, uint32_t data) override;

 private:
  // BAR0 offset of [addr, addr + size), or nullopt if not wholly inside it.
  std::optional<uint64_t> bar0_offset(uint64_t addr, unsigned size) const;
  void log_stray(const char* what, uint64_t where, unsigned size);

  pci::Sbdf sbdf_;
  uint32_t packed_sbdf_;
  hv::Hypervisor& hv_;
  device::VgpuStub stub_;
  Bar0Listener* listener_ = nullptr;
  uint64_t msis_sent_ = 0;
  RateLimiter stray_log_;
};

}  // namespace vgpu::host
