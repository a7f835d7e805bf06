#include "vgpu/device/vgpu_stub.h"

#include <bit>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace vgpu::device {

namespace {

using pci::MsiCapability64;

constexpr uint32_t kBar0Flags = 0;  // 32-bit, non-prefetchable memory
constexpr uint8_t kByteMask = 0xFF;
constexpr uint16_t kWordMask = 0xFFFF;
constexpr uint32_t kDwordMask = 0xFFFFFFFF;
constexpr uint32_t kMsiAddressLowWritable = ~uint32_t{3};  // dword-aligned address

// Writes the fixed identity and the guest-writable header registers.
void setup_header(pci::ConfigSpace& cs, const StubConfig& cfg) {
  cs.store(pci::kVendorId, 2, kStubVendorId);
  cs.store(pci::kDeviceId, 2, kStubDeviceId);
  cs.store(pci::kRevisionId, 1, kStubRevision);
  cs.store(pci::kClassProgIf, 3, cfg.class_code);
  cs.store(pci::kSubsystemVendorId, 2, kStubSubsystemVendorId);
  cs.store(pci::kSubsystemId, 2, kStubSubsystemId);
  cs.store(pci::kInterruptLine, 1, kStubInterruptLine);

  cs.set_writable(pci::kCommand, 2, kStubCommandWritable);
  cs.set_write_one_to_clear(pci::kStatus, 2, pci::kStatusErrorBits);
  cs.set_writable(pci::kCacheLineSize, 1, kByteMask);
  cs.set_writable(pci::kInterruptLine, 1, kByteMask);
}

// One vector, 64-bit address, per-vector masking. Multiple Message Capable
// is 0 (one vector), so Multiple Message Enable stays read-only 0.
void setup_msi(pci::ConfigSpace& cs) {
  MsiCapability64 initial;
  initial.control = pci::kMsiControl64Bit | pci::kMsiControlPerVectorMask;
  MsiCapability64 writable;
  writable.control = pci::kMsiControlEnable;
  writable.address_low = kMsiAddressLowWritable;
  writable.address_high = kDwordMask;
  writable.data = kWordMask;
  writable.mask = kMsiVector0;
  writable.pending = 0;  // device-owned
  const auto at = cs.add_capability(initial, writable);
  if (!at || at.value() != kStubMsiOffset) throw std::logic_error("MSI capability not at 0x40");
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

Status validate(const StubConfig& cfg) {
  const std::string size = std::to_string(cfg.bar0_size);
  if (!std::has_single_bit(cfg.bar0_size)) {
    return Error{0, "BAR0 size " + size + " is not a power of two"};
  }
  if (cfg.bar0_size < kMinBar0Size) {
    return Error{0, "BAR0 size " + size + " is below the minimum of " +
                        std::to_string(kMinBar0Size) + " bytes"};
  }
  if (cfg.bar0_size > kMaxBar0Size) {
    return Error{0, "BAR0 size " + size + " exceeds the 1 GiB limit of a 32-bit BAR"};
  }
  if (cfg.class_code > kMaxClassCode) {
    return Error{0, "class code " + hex(cfg.class_code) + " does not fit in 24 bits"};
  }
  return ok_status();
}

VgpuStub::VgpuStub(const StubConfig& cfg, MsiSink& msi) : msi_(msi) {
  if (const Status s = validate(cfg); !s) throw std::invalid_argument(s.error().describe());
  setup_header(config_, cfg);
  if (const Status s = config_.register_bar(0, cfg.bar0_size, kBar0Flags); !s) {
    throw std::logic_error(s.error().describe());  // validate() admits only legal sizes
  }
  setup_msi(config_);
}

pci::ConfigWriteEffects VgpuStub::config_write(uint32_t offset, unsigned size, uint32_t value) {
  const pci::ConfigWriteEffects fx = config_.write(offset, size, value);
  if (fx.msi_changed) deliver_pending_msi();
  return fx;
}

void VgpuStub::bar0_write(uint64_t offset, unsigned size, uint64_t value) {
  if (regs_.write(offset, size, value)) signal_completion();
}

MsiCapability64 VgpuStub::msi_state() const {
  return config_.capability<MsiCapability64>(kStubMsiOffset);
}

void VgpuStub::signal_completion() {
  const MsiCapability64 msi = msi_state();
  // With MSI off there is no interrupt at all: Interrupt Pin is 0 (no INTx).
  if (!msi.enabled()) return;
  if ((msi.mask & kMsiVector0) != 0) {
    // PCI 3.0 6.8.3.4: a masked vector records the message as pending.
    config_.store(kStubMsiOffset + pci::kMsiPending64, 4, msi.pending | kMsiVector0);
    return;
  }
  msi_.send_msi(msi.address(), msi.data);
}

void VgpuStub::deliver_pending_msi() {
  const MsiCapability64 msi = msi_state();
  const bool pending = (msi.pending & kMsiVector0) != 0;
  const bool masked = (msi.mask & kMsiVector0) != 0;
  if (!pending || masked || !msi.enabled()) return;
  config_.store(kStubMsiOffset + pci::kMsiPending64, 4, msi.pending & ~kMsiVector0);
  msi_.send_msi(msi.address(), msi.data);
}

}  // namespace vgpu::device
