#include "vgpu/pci/msi.h"

namespace vgpu::pci {

namespace {

constexpr uint32_t kDwordMask = 0xFFFFFFFF;
constexpr uint16_t kWordMask = 0xFFFF;
constexpr uint32_t kAddressLowWritable = ~uint32_t{3};  // the address is dword aligned

}  // namespace

Result<MsiVector> MsiVector::add_to(ConfigSpace& config, MsiSink& sink) {
  MsiCapability64 initial;
  initial.control = kMsiControl64Bit | kMsiControlPerVectorMask;
  MsiCapability64 writable;
  writable.control = kMsiControlEnable;
  writable.address_low = kAddressLowWritable;
  writable.address_high = kDwordMask;
  writable.data = kWordMask;
  writable.mask = kMsiVector0;
  writable.pending = 0;  // device-owned
  auto at = config.add_capability(initial, writable);
  if (!at) return at.error();
  return MsiVector(config, sink, *at);
}

void MsiVector::signal() {
  const MsiCapability64 msi = state();
  if (!msi.enabled()) return;
  if ((msi.mask & kMsiVector0) != 0) {
    // PCI 3.0 6.8.3.4: a masked vector records the message as pending.
    set_pending(true);
    return;
  }
  sink_->send_msi(msi.address(), msi.data);
}

void MsiVector::config_written() {
  const MsiCapability64 msi = state();
  const bool pending = (msi.pending & kMsiVector0) != 0;
  const bool masked = (msi.mask & kMsiVector0) != 0;
  if (!pending || masked || !msi.enabled()) return;
  set_pending(false);
  sink_->send_msi(msi.address(), msi.data);
}

void MsiVector::set_pending(bool pending) {
  const uint32_t bits = state().pending;
  config_->store(offset_ + kMsiPending64, 4, pending ? bits | kMsiVector0 : bits & ~kMsiVector0);
}

}  // namespace vgpu::pci
