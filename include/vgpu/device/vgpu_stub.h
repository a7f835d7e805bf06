// The vGPU stub PCI device (docs/spec.md §2 and §3): its identity, and BAR0
// as the register file. Configuration space and MSI come from
// pci::ConfigSpaceDevice; this class adds only what makes the device itself.
//
// Thread-compatible: callers serialise access.
#pragma once

#include <cstdint>

#include "vgpu/common/result.h"
#include "vgpu/device/register_file.h"
#include "vgpu/pci/pci_device.h"

namespace vgpu::device {

// What an administrator may choose on the command line (docs/spec.md §5).
struct StubConfig {
  uint64_t bar0_size = 4096;
  uint32_t class_code = 0x120000;  // processing accelerator
};

// BAR0 limits: at least the 4 KiB register layout (and a page, which is
// what Xen maps), at most 1 GiB so a 32-bit BAR still fits below 4 GiB.
inline constexpr uint64_t kMinBar0Size = 4096;
inline constexpr uint64_t kMaxBar0Size = uint64_t{1} << 30;

// Each returns an error naming the problem ("BAR0 size 6000 is not a power
// of two"); the command line reports it as it is.
Status validate_bar0_size(uint64_t bytes);
Status validate_class_code(uint64_t class_code);
Status validate(const StubConfig& config);

// The stub's identity (docs/spec.md §2): the one place its IDs, class and
// BAR live. The device, XenStore and the logs all read it from here.
pci::DeviceIdentity stub_identity(const StubConfig& config);

// Builds stubs as `config` says (which must pass validate()).
pci::DeviceFactory stub_factory(const StubConfig& config);

class VgpuStub final : public pci::ConfigSpaceDevice {
 public:
  static constexpr unsigned kRegisterBar = 0;

  // `config` must pass validate() (std::invalid_argument otherwise); `msi`
  // must outlive the stub.
  VgpuStub(const StubConfig& config, pci::MsiSink& msi);

  // BAR0 only: the register file, any size 1..8 at any alignment. A write
  // that completes a command raises MSI (or sets its pending bit).
  uint64_t bar_read(unsigned bar, uint64_t offset, unsigned size) override;
  void bar_write(unsigned bar, uint64_t offset, unsigned size, uint64_t value) override;

  const RegisterFile& registers() const { return regs_; }

 private:
  RegisterFile regs_;
};

}  // namespace vgpu::device
