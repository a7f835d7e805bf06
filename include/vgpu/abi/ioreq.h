// Xen's ioreq ABI, taken from Xen's own public header so that the daemon and
// the simulated hypervisor share one definition with the real hypervisor,
// checked here field by field.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

extern "C" {
#include <xen/hvm/ioreq.h>
}

namespace vgpu::abi {

static_assert(sizeof(ioreq_t) == 32, "ioreq_t is 32 bytes in Xen's ABI");
static_assert(offsetof(ioreq_t, addr) == 0);
static_assert(offsetof(ioreq_t, data) == 8);
static_assert(offsetof(ioreq_t, count) == 16);
static_assert(offsetof(ioreq_t, size) == 20);
static_assert(offsetof(ioreq_t, vp_eport) == 24);
static_assert(offsetof(ioreq_t, _pad0) == 28);
static_assert(offsetof(ioreq_t, type) == 31);
static_assert(sizeof(buf_ioreq_t) == 8);
static_assert(IOREQ_BUFFER_SLOT_NUM == 511);
static_assert(sizeof(buffered_iopage_t) == 2 * sizeof(uint32_t) + 511 * 8);

inline constexpr size_t kPageSize = 4096;
// One synchronous slot per vCPU; a page holds this many.
inline constexpr unsigned kMaxVcpus = kPageSize / sizeof(ioreq_t);
static_assert(kMaxVcpus == 128);

// Byte 30 packs state (bits 0-3), data_is_ptr (4), dir (5), df (6). The state
// is the synchronisation point with Xen, so it is read and written as that
// byte with acquire/release ordering, never as a plain bitfield.
inline constexpr size_t kStateByteOffset = 30;
inline constexpr uint8_t kStateMask = 0x0f;

inline uint8_t* state_byte(ioreq_t* slot) {
  return reinterpret_cast<uint8_t*>(slot) + kStateByteOffset;
}

// Reads the slot's state; everything the other side wrote before publishing
// this state is visible after this load.
inline uint8_t load_state(const ioreq_t* slot) {
  auto* byte = reinterpret_cast<const uint8_t*>(slot) + kStateByteOffset;
  return __atomic_load_n(byte, __ATOMIC_ACQUIRE) & kStateMask;
}

// Publishes a new state, keeping the other flags of byte 30; everything
// written to the slot before this store is visible to the other side first.
inline void store_state(ioreq_t* slot, uint8_t state) {
  uint8_t* byte = state_byte(slot);
  const uint8_t flags = __atomic_load_n(byte, __ATOMIC_RELAXED) & ~kStateMask;
  __atomic_store_n(byte, static_cast<uint8_t>(flags | (state & kStateMask)), __ATOMIC_RELEASE);
}

// IOREQ_TYPE_PCI_CONFIG address: SBDF in bits 63:32, register offset in 31:0.
inline constexpr uint32_t pci_config_sbdf(uint64_t addr) {
  return static_cast<uint32_t>(addr >> 32);
}
inline constexpr uint32_t pci_config_offset(uint64_t addr) {
  return static_cast<uint32_t>(addr);
}
inline constexpr uint64_t pci_config_addr(uint32_t packed_sbdf, uint32_t offset) {
  return uint64_t{packed_sbdf} << 32 | offset;
}

// Human names for logs.
const char* type_name(uint8_t type);
const char* state_name(uint8_t state);

}  // namespace vgpu::abi
