// A second device type, for tests only: it proves that the host layer, the
// claims, the transport and XenStore are generic over pci::PciDevice. Adding
// it touched nothing outside this file.
//
// Identity 1af4:2222 (class 0xff0000), BAR0 32-bit 4 KiB, BAR2 64-bit
// prefetchable 1 MiB (BAR3 is its upper half), one MSI vector. Each BAR is
// plain memory, except that a write to BAR0 offset kDoorbell raises MSI.
//
// Thread-compatible, as every device.
#pragma once

#include <cstring>
#include <memory>
#include <vector>

#include "vgpu/pci/pci_device.h"

namespace vgpu::testing {

class TwoBarDevice final : public pci::ConfigSpaceDevice {
 public:
  static constexpr unsigned kSmallBar = 0;
  static constexpr unsigned kLargeBar = 2;
  static constexpr uint64_t kSmallSize = 4096;
  static constexpr uint64_t kLargeSize = uint64_t{1} << 20;
  static constexpr uint64_t kDoorbell = 0xFF8;

  static pci::DeviceIdentity identity_value() {
    pci::DeviceIdentity id;
    id.vendor_id = 0x1AF4;
    id.device_id = 0x2222;
    id.class_code = 0xFF0000;
    id.bars[kSmallBar] = {.size = kSmallSize};
    id.bars[kLargeBar] = {.size = kLargeSize, .is_64bit = true, .prefetchable = true};
    return id;
  }
  static pci::DeviceFactory factory() {
    return [](const pci::DeviceContext& context) {
      return std::make_unique<TwoBarDevice>(context.msi);
    };
  }

  explicit TwoBarDevice(pci::MsiSink& msi)
      : ConfigSpaceDevice(identity_value(), &msi), small_(kSmallSize), large_(kLargeSize) {}

  uint64_t bar_read(unsigned bar, uint64_t offset, unsigned size) override {
    const std::vector<uint8_t>* mem = memory(bar);
    uint64_t v = 0;
    if (mem && size <= sizeof v && offset + size <= mem->size())
      std::memcpy(&v, mem->data() + offset, size);
    return v;
  }
  void bar_write(unsigned bar, uint64_t offset, unsigned size, uint64_t value) override {
    std::vector<uint8_t>* mem = memory(bar);
    if (!mem || size > sizeof value || offset + size > mem->size()) return;
    std::memcpy(mem->data() + offset, &value, size);
    if (bar == kSmallBar && offset == kDoorbell) signal_msi();
  }

 private:
  std::vector<uint8_t>* memory(unsigned bar) {
    return bar == kSmallBar ? &small_ : bar == kLargeBar ? &large_ : nullptr;
  }
  const std::vector<uint8_t>* memory(unsigned bar) const {
    return const_cast<TwoBarDevice*>(this)->memory(bar);
  }

  std::vector<uint8_t> small_;
  std::vector<uint8_t> large_;
};

}  // namespace vgpu::testing
