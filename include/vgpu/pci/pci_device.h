// A PCI function as the host layer sees it: an identity, a configuration
// space and the contents of its BARs, addressed by offsets (never by guest
// addresses, never through Xen). The host layer is generic over this
// interface; adding a device type means implementing it, nothing else.
//
// ConfigSpaceDevice implements everything but the BAR contents for devices
// whose configuration space is plain data plus masks, which is all of ours.
//
// Thread-compatible: callers serialise access.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "vgpu/common/result.h"
#include "vgpu/common/state_buffer.h"
#include "vgpu/pci/config_space.h"
#include "vgpu/pci/identity.h"
#include "vgpu/pci/msi.h"

namespace vgpu::dma {
class GuestDma;
}

namespace vgpu::pci {

class PciDevice {
 public:
  virtual ~PciDevice() = default;

  virtual const DeviceIdentity& identity() const = 0;

  // Guest config accesses: size 1, 2 or 4 at any offset below 0x1000.
  virtual uint32_t config_read(uint32_t offset, unsigned size) const = 0;
  // Returns what the write changed (per BAR), for the host to apply.
  virtual ConfigWriteEffects config_write(uint32_t offset, unsigned size, uint32_t value) = 0;

  // Where BAR `index` decodes now, if it does.
  virtual std::optional<BarMapping> bar_mapping(unsigned index) const = 0;

  // Accesses wholly inside BAR `bar` while it decodes; size 1..8 at any
  // alignment.
  virtual uint64_t bar_read(unsigned bar, uint64_t offset, unsigned size) = 0;
  virtual void bar_write(unsigned bar, uint64_t offset, unsigned size, uint64_t value) = 0;

  // A device that finishes work on a thread of its own reports it here: the
  // daemon's loop polls event_fd() (-1: none) and calls on_event() on the
  // loop thread, where config space and MSI live.
  virtual int event_fd() const { return -1; }
  virtual void on_event() {}
  // Teardown: stop the device's own threads and drop its use of guest
  // memory; no access follows. Idempotent.
  virtual void shutdown() {}

  // Restart under a running guest (docs/spec.md §12). save_state() writes
  // everything the guest can observe of the device; restore_state() puts a
  // freshly built device back into it, checking every value (the bytes
  // come from a file the unprivileged worker writes). Called on the loop
  // thread. A device that keeps the defaults cannot be taken over: its
  // restore fails and the daemon starts afresh.
  virtual void save_state(StateWriter& out) const { (void)out; }
  virtual Status restore_state(StateReader& in) {
    (void)in;
    return Error{ENOTSUP, "this device cannot be restored after a restart"};
  }
  // The daemon dies without tearing down (a simulated kill -9 in tests):
  // stop the device's threads and leave device memory as it is, for the
  // next daemon. Nothing follows.
  virtual void abandon() { shutdown(); }
};

// State a device reports for administrators (XenStore backend keys beside
// the standard ones): called on the loop thread when a value changes.
class StatusSink {
 public:
  virtual ~StatusSink() = default;
  virtual void status_changed(std::string_view key, std::string_view value) = 0;
};

// What a device may use of the machine around it; each must outlive it.
struct DeviceContext {
  MsiSink& msi;        // where its MSI messages go
  dma::GuestDma& dma;  // guest memory, for a bus-mastering device
  StatusSink& status;  // what administrators see of it
};

// Builds a device in a context (the host's, or a test's). May throw when the
// host cannot give it what it needs (memory for device memory, say).
using DeviceFactory = std::function<std::unique_ptr<PciDevice>(const DeviceContext&)>;

// A type 0 header built from an identity, with the standard guest-writable
// registers (Command: Memory Space, Bus Master, INTx Disable; Status error
// bits write-1-to-clear; Cache Line Size and Interrupt Line as storage;
// Interrupt Line 0xFF and no INTx pin) and, optionally, one MSI vector.
class ConfigSpaceDevice : public PciDevice {
 public:
  ConfigSpaceDevice(const ConfigSpaceDevice&) = delete;
  ConfigSpaceDevice& operator=(const ConfigSpaceDevice&) = delete;

  const DeviceIdentity& identity() const final { return identity_; }
  uint32_t config_read(uint32_t offset, unsigned size) const final {
    return config_.read(offset, size);
  }
  ConfigWriteEffects config_write(uint32_t offset, unsigned size, uint32_t value) final;
  std::optional<BarMapping> bar_mapping(unsigned index) const final {
    return config_.bar_mapping(index);
  }

  const ConfigSpace& config() const { return config_; }

  // The configuration space, then the device's own state (save_device_state).
  void save_state(StateWriter& out) const final;
  Status restore_state(StateReader& in) final;

 protected:
  // `identity` must pass validate() (std::invalid_argument otherwise: a
  // device's identity is fixed by its code, or checked on the command line
  // before the device is built). With `msi`, the first capability (0x40) is
  // a single MSI vector whose messages go there; `msi` must outlive this.
  ConfigSpaceDevice(const DeviceIdentity& identity, MsiSink* msi);

  // Raises the MSI vector (or records it pending); nothing without MSI.
  void signal_msi();
  // Hook for devices that react to their own config state (e.g. Bus
  // Master); called after every guest config write.
  virtual void config_written(const ConfigWriteEffects& effects) { (void)effects; }
  // A device's state beyond its configuration space, for save_state();
  // restore_device_state() runs once the configuration space is restored.
  virtual void save_device_state(StateWriter& out) const { (void)out; }
  virtual Status restore_device_state(StateReader& in) {
    (void)in;
    return ok_status();
  }

 private:
  DeviceIdentity identity_;
  ConfigSpace config_;
  std::optional<MsiVector> msi_;
};

}  // namespace vgpu::pci
