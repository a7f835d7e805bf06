// A device-independent 4 KiB PCI configuration space: bytes plus a per-byte
// writable mask and a per-byte write-1-to-clear mask.
//
// The guest path (read/write) applies the masks and nothing else; a device
// describes itself once through the setup API (store, set_writable,
// register_bar, add_capability) and reads derived state back (bar_mapping,
// capability). Writes report what they changed (ConfigWriteEffects) instead
// of acting on it, so the layer that talks to Xen decides what to do.
//
// Thread-compatible: callers serialise access.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "vgpu/common/result.h"
#include "vgpu/pci/capability.h"
#include "vgpu/pci/regs.h"

namespace vgpu::pci {

// A BAR's live guest-physical range: where the device decodes right now.
struct BarMapping {
  uint64_t base;
  uint64_t size;
  friend bool operator==(const BarMapping&, const BarMapping&) = default;
};

// What a guest config write changed, for the layer above to apply.
struct ConfigWriteEffects {
  uint8_t bars_changed = 0;  // bit i set: bar_mapping(i) differs from before this write
  bool msi_changed = false;  // the write touched the MSI capability

  bool bar_changed(unsigned index) const { return ((bars_changed >> index) & 1u) != 0; }
};

class ConfigSpace {
 public:
  ConfigSpace() = default;  // all bytes 0, nothing writable

  // ---- Guest accesses -----------------------------------------------------

  // Little-endian read of `size` bytes (1..4) at any offset, including
  // dword-crossing ones. Bytes past 0xFFF read 0xFF, like an absent register;
  // a size outside 1..4 reads all-ones.
  uint32_t read(uint32_t offset, unsigned size) const;

  // Per byte: cfg = (cfg & ~wmask) | (v & wmask), then cfg &= ~(v & w1cmask).
  // Bytes past 0xFFF and sizes outside 1..4 are dropped.
  ConfigWriteEffects write(uint32_t offset, unsigned size, uint32_t value);

  // BAR `index`'s live range: only while Command.MemorySpace is set and the
  // BAR holds a valid address (not 0, not the all-ones sizing probe). For a
  // 64-bit BAR, `index` is its lower register; the upper one has no mapping.
  std::optional<BarMapping> bar_mapping(unsigned index) const;

  uint16_t command() const { return static_cast<uint16_t>(read(kCommand, 2)); }
  uint16_t status() const { return static_cast<uint16_t>(read(kStatus, 2)); }

  // ---- Device-side setup and state -----------------------------------------

  // Writes bytes as the device itself, ignoring the guest masks: initial
  // values at setup and device-owned bits (e.g. MSI pending) at run time.
  void store(uint32_t offset, unsigned size, uint32_t value);
  // Sets the guest-writable bits of `size` bytes at `offset` (replaces).
  void set_writable(uint32_t offset, unsigned size, uint32_t mask);
  // Sets the write-1-to-clear bits of `size` bytes at `offset` (replaces).
  void set_write_one_to_clear(uint32_t offset, unsigned size, uint32_t mask);

  // Declares BAR `index` as a memory BAR of `size` bytes (a power of two).
  // `flags` are its read-only low bits: kBarPrefetchable and/or
  // kBarMemType64. A 32-bit BAR holds 16 B .. 2 GiB; a 64-bit one up to
  // kMaxBar64Size and takes register `index + 1` as its upper half. I/O BARs
  // are not supported. The address bits become writable (wmask =
  // ~(size - 1)), so the all-ones probe reads back ~(size - 1) | flags with
  // no special case.
  Status register_bar(unsigned index, uint64_t size, uint32_t flags);

  // Appends a capability to the chain (first at 0x40, each dword aligned,
  // all below 0x100), links the previous `next` (or 0x34) to it and sets
  // Status.CapabilitiesList. Bits set in `writable` are guest-writable; the
  // id and next bytes never are. Returns the capability's offset.
  template <Capability Cap>
  Result<uint8_t> add_capability(const Cap& initial,
                                 const Cap& writable = capability_filled<Cap>(0));

  // The capability at `offset` as it stands now (read back from the bytes).
  template <Capability Cap>
  Cap capability(uint8_t offset) const;

  // Offset of the first capability with `id`, by walking the chain from 0x34.
  std::optional<uint8_t> find_capability(uint8_t id) const;

  // ---- Restart (docs/spec.md §12) -------------------------------------------

  // What a restart keeps: the legacy 256 bytes (header and capabilities),
  // where every guest-writable and device-owned bit lives; the extended
  // space holds none (no extended capabilities), so it is not saved.
  using Saved = std::array<uint8_t, kLegacyConfigSize>;
  Saved saved() const;
  // Takes the guest-writable bits of every byte from `saved` (a saved() of
  // the same device before a restart); read-only bits stay as set up, so
  // whatever the saved image holds cannot change the identity or the masks.
  void restore_writable(const Saved& saved);

 private:
  struct CapabilityInfo {
    uint8_t id;
    uint8_t offset;
    uint8_t size;
  };

  Result<uint8_t> append_capability(const uint8_t* initial, const uint8_t* writable, size_t size);
  std::array<std::optional<BarMapping>, kBarCount> live_bars() const;
  bool touches_capability(uint32_t offset, unsigned size, uint8_t id) const;

  std::array<uint8_t, kConfigSpaceSize> bytes_{};
  std::array<uint8_t, kConfigSpaceSize> wmask_{};
  std::array<uint8_t, kConfigSpaceSize> w1cmask_{};
  std::array<uint64_t, kBarCount> bar_sizes_{};  // 0: BAR not implemented
  std::array<bool, kBarCount> bar_is_64bit_{};
  std::vector<CapabilityInfo> capabilities_;
};

template <Capability Cap>
Result<uint8_t> ConfigSpace::add_capability(const Cap& initial, const Cap& writable) {
  static_assert(offsetof(Cap, id) == 0 && offsetof(Cap, next) == 1,
                "a capability starts with its id and next bytes");
  uint8_t init_bytes[sizeof(Cap)];
  uint8_t mask_bytes[sizeof(Cap)];
  std::memcpy(init_bytes, &initial, sizeof(Cap));
  std::memcpy(mask_bytes, &writable, sizeof(Cap));
  return append_capability(init_bytes, mask_bytes, sizeof(Cap));
}

template <Capability Cap>
Cap ConfigSpace::capability(uint8_t offset) const {
  static_assert(sizeof(Cap) <= kLegacyConfigSize - kHeaderEnd);
  Cap cap;
  std::memcpy(&cap, bytes_.data() + offset, sizeof(Cap));
  return cap;
}

}  // namespace vgpu::pci
