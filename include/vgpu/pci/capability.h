// Typed PCI capabilities.
//
// A capability is a trivially-copyable, standard-layout struct whose first two
// bytes are the capability ID and the next pointer. ConfigSpace::add_capability
// copies it into the configuration space byte for byte and links `next` itself,
// so a capability's definition is its register layout and nothing else.
#pragma once

#include <array>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "vgpu/pci/regs.h"

namespace vgpu::pci {

// Config space is little-endian; capabilities are copied with memcpy, so the
// host must be little-endian too (x86-64 and arm64 Dom0s are).
static_assert(std::endian::native == std::endian::little,
              "capability structs are copied into little-endian config space as-is");

template <typename T>
concept Capability = std::is_trivially_copyable_v<T> && std::is_standard_layout_v<T> &&
    std::default_initializable<T> && requires(T c) {
  { c.id } -> std::same_as<uint8_t&>;
  { c.next } -> std::same_as<uint8_t&>;
} && sizeof(T) >= 2 && sizeof(T) % 4 == 0;

// A capability value whose every byte is `byte`: capability_filled<Cap>(0)
// declares nothing writable, capability_filled<Cap>(0xFF) everything.
template <Capability Cap>
Cap capability_filled(uint8_t byte) {
  std::array<uint8_t, sizeof(Cap)> bytes;
  bytes.fill(byte);
  return std::bit_cast<Cap>(bytes);
}

// MSI capability with a 64-bit address and per-vector masking (PCI Local Bus
// 3.0, 6.8.1). Field offsets are the ones regs.h names.
struct MsiCapability64 {
  uint8_t id = kCapIdMsi;
  uint8_t next = 0;
  uint16_t control = 0;
  uint32_t address_low = 0;
  uint32_t address_high = 0;
  uint16_t data = 0;
  uint16_t reserved = 0;
  uint32_t mask = 0;
  uint32_t pending = 0;

  uint64_t address() const { return uint64_t{address_high} << 32 | address_low; }
  bool enabled() const { return (control & kMsiControlEnable) != 0; }
};

static_assert(Capability<MsiCapability64>);
static_assert(sizeof(MsiCapability64) == kMsiCapSize64Masking);
static_assert(offsetof(MsiCapability64, control) == kMsiControl);
static_assert(offsetof(MsiCapability64, address_low) == kMsiAddressLow);
static_assert(offsetof(MsiCapability64, address_high) == kMsiAddressHigh);
static_assert(offsetof(MsiCapability64, data) == kMsiData64);
static_assert(offsetof(MsiCapability64, mask) == kMsiMask64);
static_assert(offsetof(MsiCapability64, pending) == kMsiPending64);

}  // namespace vgpu::pci
