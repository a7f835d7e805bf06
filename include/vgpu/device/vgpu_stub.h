// The vGPU stub PCI device (spec sections 2 and 3): its configuration-space
// identity, BAR0 register file and MSI delivery. It sees config offsets and
// offsets inside BAR0, never guest addresses or Xen (style.md habit 4).
//
// Thread-compatible: callers serialise access.
#pragma once

#include <cstdint>
#include <optional>

#include "vgpu/common/result.h"
#include "vgpu/device/msi_sink.h"
#include "vgpu/device/register_file.h"
#include "vgpu/pci/config_space.h"

namespace vgpu::device {

// PCI identity (spec section 2).
inline constexpr uint16_t kStubVendorId = 0x1AF4;
inline constexpr uint16_t kStubDeviceId = 0x1111;
inline constexpr uint8_t kStubRevision = 0x01;
inline constexpr uint16_t kStubSubsystemVendorId = 0x1AF4;
inline constexpr uint16_t kStubSubsystemId = 0x1111;
inline constexpr uint32_t kDefaultClassCode = 0x120000;  // processing accelerator
inline constexpr uint32_t kMaxClassCode = 0xFFFFFF;
inline constexpr uint8_t kStubInterruptLine = 0xFF;  // "not connected" until firmware sets it
inline constexpr uint16_t kStubCommandWritable =
    pci::kCommandMemorySpace | pci::kCommandBusMaster | pci::kCommandIntxDisable;
inline constexpr uint8_t kStubMsiOffset = 0x40;   // the first (and only) capability
inline constexpr uint32_t kMsiVector0 = 1u << 0;  // mask/pending bit of the single vector

// BAR0 size limits: at least the 4 KiB register layout, at most 1 GiB so a
// 32-bit BAR can still be placed below 4 GiB.
inline constexpr uint64_t kMinBar0Size = 4096;
inline constexpr uint64_t kMaxBar0Size = uint64_t{1} << 30;

struct StubConfig {
  uint64_t bar0_size = 4096;
  uint32_t class_code = kDefaultClassCode;
};

// Checks a configuration from the command line; the error names the problem
// ("BAR0 size 6000 is not a power of two").
Status validate(const StubConfig& cfg);

class VgpuStub {
 public:
  // `cfg` must pass validate(); an invalid one throws std::invalid_argument.
  // `msi` must outlive the stub.
  VgpuStub(const StubConfig& cfg, MsiSink& msi);

  uint32_t config_read(uint32_t offset, unsigned size) const { return config_.read(offset, size); }
  // A write that unmasks or enables MSI while a message is pending sends it.
  pci::ConfigWriteEffects config_write(uint32_t offset, unsigned size, uint32_t value);

  std::optional<pci::BarMapping> bar0() const { return config_.bar_mapping(0); }
  // `offset` is inside BAR0; any size 1..8 at any alignment (see RegisterFile).
  uint64_t bar0_read(uint64_t offset, unsigned size) { return regs_.read(offset, size); }
  // A write that completes a command raises MSI, or sets its pending bit
  // while the vector is masked.
  void bar0_write(uint64_t offset, unsigned size, uint64_t value);

  const pci::ConfigSpace& config() const { return config_; }
  const RegisterFile& registers() const { return regs_; }

 private:
  pci::MsiCapability64 msi_state() const;
  void signal_completion();
  void deliver_pending_msi();

  pci::ConfigSpace config_;
  RegisterFile regs_;
  MsiSink& msi_;
};

}  // namespace vgpu::device
