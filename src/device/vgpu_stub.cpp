#include "vgpu/device/vgpu_stub.h"

#include <bit>
#include <stdexcept>
#include <string>

#include "vgpu/common/hex.h"

namespace vgpu::device {

namespace {

constexpr uint16_t kStubVendorId = 0x1AF4;
constexpr uint16_t kStubDeviceId = 0x1111;
constexpr uint16_t kStubSubsystemVendorId = 0x1AF4;
constexpr uint16_t kStubSubsystemId = 0x1111;
constexpr uint8_t kStubRevision = 0x01;

}  // namespace

Status validate_bar0_size(uint64_t bytes) {
  const std::string size = std::to_string(bytes);
  if (!std::has_single_bit(bytes)) return Error{0, "BAR0 size " + size + " is not a power of two"};
  if (bytes < kMinBar0Size) {
    return Error{0, "BAR0 size " + size + " is below " + std::to_string(kMinBar0Size) +
                        " bytes (the register layout, and one page)"};
  }
  if (bytes > kMaxBar0Size) {
    return Error{0, "BAR0 size " + size + " exceeds 1 GiB, the limit for a 32-bit BAR"};
  }
  return ok_status();
}

Status validate_class_code(uint64_t class_code) {
  if (class_code > pci::kMaxClassCode) {
    return Error{
        0, "class code " + hex(class_code) + " does not fit in 24 bits (class, subclass, prog-if)"};
  }
  return ok_status();
}

Status validate(const StubConfig& config) {
  if (Status s = validate_bar0_size(config.bar0_size); !s) return s;
  return validate_class_code(config.class_code);
}

pci::DeviceIdentity stub_identity(const StubConfig& config) {
  pci::DeviceIdentity id;
  id.vendor_id = kStubVendorId;
  id.device_id = kStubDeviceId;
  id.subsystem_vendor_id = kStubSubsystemVendorId;
  id.subsystem_id = kStubSubsystemId;
  id.revision = kStubRevision;
  id.class_code = config.class_code;
  id.bars[VgpuStub::kRegisterBar] =
      pci::BarSpec{.size = config.bar0_size};  // 32-bit, non-prefetchable
  return id;
}

pci::DeviceFactory stub_factory(const StubConfig& config) {
  return [config](pci::MsiSink& msi) { return std::make_unique<VgpuStub>(config, msi); };
}

namespace {

const StubConfig& checked(const StubConfig& config) {
  if (Status s = validate(config); !s) throw std::invalid_argument(s.error().describe());
  return config;
}

}  // namespace

VgpuStub::VgpuStub(const StubConfig& config, pci::MsiSink& msi)
    : ConfigSpaceDevice(stub_identity(checked(config)), &msi) {}

uint64_t VgpuStub::bar_read(unsigned bar, uint64_t offset, unsigned size) {
  if (bar != kRegisterBar) return 0;  // the host routes only live BARs; there is no other
  return regs_.read(offset, size);
}

void VgpuStub::bar_write(unsigned bar, uint64_t offset, unsigned size, uint64_t value) {
  if (bar != kRegisterBar) return;
  if (regs_.write(offset, size, value)) signal_msi();
}

}  // namespace vgpu::device
