// The vGPU stub's BAR0 register file (docs/spec.md §3), seen as little-endian
// bytes at offsets inside BAR0, never guest addresses. Each byte follows the rule
// kRegisterMap gives it; commands run synchronously when a write touches
// COMMAND. It knows nothing of PCI config space or interrupts: the stub
// decides what a completion means.
//
// Thread-compatible: callers serialise access.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "vgpu/device/registers.h"

namespace vgpu::device {

class RegisterFile {
 public:
  // Any width from 1 to 8 bytes at any offset. Reserved bytes, and bytes past
  // the 4 KiB layout, read 0; a size outside 1..8 reads all-ones.
  uint64_t read(uint64_t offset, unsigned size) const;

  // Stores each byte by its register's rule, then, if any byte landed in
  // COMMAND, runs the command COMMAND now holds. Returns the status that
  // command finished with, or nullopt when no command was started. A size
  // outside 1..8 is dropped.
  std::optional<DeviceStatus> write(uint64_t offset, unsigned size, uint64_t value);

  DeviceStatus status() const;

  // Restart: the registers as bytes, and back (any bytes are a state the
  // guest could have written; reads stay bounded whatever they hold).
  using Storage = std::array<uint8_t, kStorageSize>;
  const Storage& storage() const { return bytes_; }
  void restore(const Storage& saved) { bytes_ = saved; }

 private:
  uint32_t load32(uint32_t offset) const;
  void store32(uint32_t offset, uint32_t value);
  DeviceStatus execute(uint32_t command);

  std::array<uint8_t, kStorageSize> bytes_{};  // IDLE and all zero at reset
};

}  // namespace vgpu::device
