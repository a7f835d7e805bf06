// What the ioreq transport asks of the emulated device(s).
//
// The transport decodes ioreq_t slots into these calls and knows nothing
// else of the device; the device host implements them. Sizes are already
// validated: config 1, 2 or 4 bytes; MMIO 1, 2, 4 or 8 bytes.
#pragma once

#include <cstdint>

namespace vgpu::ioreq {

class IoHandler {
 public:
  virtual ~IoHandler() = default;
  // packed_sbdf as in ioreq addr bits 63:32; offset 0..0xFFF (larger offsets
  // are answered by the transport itself).
  virtual uint32_t config_read(uint32_t packed_sbdf, uint32_t offset, unsigned size) = 0;
  virtual void config_write(uint32_t packed_sbdf, uint32_t offset, unsigned size,
                            uint32_t value) = 0;
  // Guest-physical address, as the guest issued it.
  virtual uint64_t mmio_read(uint64_t addr, unsigned size) = 0;
  virtual void mmio_write(uint64_t addr, unsigned size, uint64_t value) = 0;
};

}  // namespace vgpu::ioreq
