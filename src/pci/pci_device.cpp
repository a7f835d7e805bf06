#include "vgpu/pci/pci_device.h"

#include <cstring>
#include <stdexcept>

namespace vgpu::pci {

namespace {

constexpr uint8_t kByteMask = 0xFF;
constexpr uint16_t kCommandWritable = kCommandMemorySpace | kCommandBusMaster | kCommandIntxDisable;
constexpr uint8_t kInterruptLineUnknown = 0xFF;  // "not connected" until firmware writes it

void setup_standard_header(ConfigSpace& cs) {
  cs.store(kInterruptLine, 1, kInterruptLineUnknown);
  cs.set_writable(kCommand, 2, kCommandWritable);
  cs.set_write_one_to_clear(kStatus, 2, kStatusErrorBits);
  cs.set_writable(kCacheLineSize, 1, kByteMask);
  cs.set_writable(kInterruptLine, 1, kByteMask);
}

}  // namespace

ConfigSpaceDevice::ConfigSpaceDevice(const DeviceIdentity& identity, MsiSink* msi)
    : identity_(identity) {
  if (Status s = apply_identity(config_, identity_); !s) {
    throw std::invalid_argument(s.error().describe());
  }
  setup_standard_header(config_);
  if (msi) {
    auto vector = MsiVector::add_to(config_, *msi);
    if (!vector) throw std::logic_error(vector.error().describe());  // the first capability fits
    msi_.emplace(*vector);
  }
}

ConfigWriteEffects ConfigSpaceDevice::config_write(uint32_t offset, unsigned size, uint32_t value) {
  const ConfigWriteEffects effects = config_.write(offset, size, value);
  if (effects.msi_changed && msi_) msi_->config_written();
  config_written(effects);
  return effects;
}

void ConfigSpaceDevice::save_state(StateWriter& out) const {
  out.put(config_.saved());
  save_device_state(out);
}

Status ConfigSpaceDevice::restore_state(StateReader& in) {
  auto saved = in.get<ConfigSpace::Saved>();
  if (!saved) return Error{EINVAL, "saved state: configuration space truncated"};
  config_.restore_writable(*saved);
  if (msi_) {
    MsiCapability64 cap;
    std::memcpy(&cap, saved->data() + msi_->offset(), sizeof cap);
    msi_->restore_pending(cap);
  }
  if (Status s = restore_device_state(in); !s) return s;
  if (!in.at_end()) return Error{EINVAL, "saved state: trailing bytes"};
  return ok_status();
}

void ConfigSpaceDevice::signal_msi() {
  if (msi_) msi_->signal();
}

}  // namespace vgpu::pci
