// What a PCI device is, as data: its IDs, class and BARs. A device states its
// identity once; the configuration space, the XenStore backend and the logs
// are all derived from that one value.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "vgpu/common/result.h"
#include "vgpu/pci/regs.h"

namespace vgpu::pci {

class ConfigSpace;

// One memory BAR. A 64-bit BAR also occupies the next BAR register (its
// upper half), which must then be left unimplemented.
struct BarSpec {
  uint64_t size = 0;  // bytes, a power of two; 0: not implemented
  bool is_64bit = false;
  bool prefetchable = false;

  bool implemented() const { return size != 0; }
  friend bool operator==(const BarSpec&, const BarSpec&) = default;
};

// The largest BARs we declare: a 32-bit BAR must still fit below 4 GiB
// beside the rest of the guest's MMIO hole; a 64-bit one is bounded so that
// base + size cannot overflow and Xen can map it.
inline constexpr uint64_t kMinBarSize = 16;  // the four flag bits sit below the address
inline constexpr uint64_t kMaxBar32Size = uint64_t{1} << 31;
inline constexpr uint64_t kMaxBar64Size = uint64_t{1} << 40;

struct DeviceIdentity {
  uint16_t vendor_id = 0;
  uint16_t device_id = 0;
  uint16_t subsystem_vendor_id = 0;
  uint16_t subsystem_id = 0;
  uint8_t revision = 0;
  uint32_t class_code = 0;  // base class << 16 | subclass << 8 | prog-if
  std::array<BarSpec, kBarCount> bars{};

  // For logs: "1af4:1111 class 0x120000, BAR0 4096 bytes 32-bit".
  std::string summary() const;
  friend bool operator==(const DeviceIdentity&, const DeviceIdentity&) = default;
};

inline constexpr uint32_t kMaxClassCode = 0xFFFFFF;

// Checks what config space cannot represent: a class over 24 bits, a BAR
// size that is not a power of two or out of range, a 64-bit BAR in the last
// slot or followed by an implemented BAR. The error names the problem.
Status validate(const DeviceIdentity& identity);

// Writes the identity into a configuration space: IDs, revision, class,
// header type 0, and every implemented BAR (address bits guest-writable).
// The identity must pass validate().
Status apply_identity(ConfigSpace& config, const DeviceIdentity& identity);

}  // namespace vgpu::pci
