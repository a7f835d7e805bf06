// Where the device sends its MSI messages; the host layer implements it with
// Xen's MSI injection, tests with a recorder.
#pragma once

#include <cstdint>

namespace vgpu::device {

class MsiSink {
 public:
  virtual ~MsiSink() = default;
  // The address and data the guest programmed into the MSI capability.
  virtual void send_msi(uint64_t address, uint32_t data) = 0;
};

}  // namespace vgpu::device
