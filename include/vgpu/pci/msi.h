// Message Signalled Interrupts, device side: a single-vector MSI capability
// with a 64-bit address and per-vector masking, and the rule that turns a
// device event into a message (PCI Local Bus 3.0, 6.8).
//
// Thread-compatible: callers serialise access (with the config space).
#pragma once

#include <cstdint>

#include "vgpu/common/result.h"
#include "vgpu/pci/capability.h"
#include "vgpu/pci/config_space.h"

namespace vgpu::pci {

// Where a device's MSI messages go: the host layer turns them into a
// hypervisor call, tests into a record.
class MsiSink {
 public:
  virtual ~MsiSink() = default;
  // The address and data the guest programmed into the MSI capability.
  virtual void send_msi(uint64_t address, uint32_t data) = 0;
};

inline constexpr uint32_t kMsiVector0 = 1u << 0;  // mask/pending bit of the single vector

class MsiVector {
 public:
  // Appends the capability to `config` (guest-writable: Enable, address,
  // data, mask; Multiple Message Enable stays 0 with one vector) and binds
  // to it. `config` and `sink` must outlive this object.
  static Result<MsiVector> add_to(ConfigSpace& config, MsiSink& sink);

  // The device has an event to report: send the message if the guest
  // enabled MSI and left the vector unmasked; record it as pending while
  // masked; drop it with MSI off (the device has no INTx pin).
  void signal();
  // Call after every config write that touched the capability: an unmask
  // or enable while a message is pending sends it.
  void config_written();
  // Restart: the pending bit as a saved image of the capability had it.
  void restore_pending(const MsiCapability64& saved) {
    set_pending((saved.pending & kMsiVector0) != 0);
  }
  uint8_t offset() const { return offset_; }

 private:
  MsiVector(ConfigSpace& config, MsiSink& sink, uint8_t offset)
      : config_(&config), sink_(&sink), offset_(offset) {}
  MsiCapability64 state() const { return config_->capability<MsiCapability64>(offset_); }
  void set_pending(bool pending);

  ConfigSpace* config_;
  MsiSink* sink_;
  uint8_t offset_;
};

}  // namespace vgpu::pci
