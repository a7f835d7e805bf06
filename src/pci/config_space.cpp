#include "vgpu/pci/config_space.h"

#include <algorithm>
#include <bit>
#include <string>

#include "vgpu/common/hex.h"
#include "vgpu/pci/identity.h"

namespace vgpu::pci {

namespace {

constexpr unsigned kMaxAccessSize = 4;
constexpr uint32_t kFirstCapabilityOffset = kHeaderEnd;
constexpr uint32_t kBarFlagsAllowed = kBarPrefetchable | kBarMemType64;
constexpr uint32_t kDwordBits = 32;
constexpr unsigned kCapNextByte = 1;
constexpr uint8_t kCapChainEnd = 0;
// A malformed chain could loop; a legal one has at most this many entries.
constexpr unsigned kMaxCapabilityWalk = (kLegacyConfigSize - kHeaderEnd) / 4;

bool valid_access_size(unsigned size) {
  return size >= 1 && size <= kMaxAccessSize;
}

// Half-open ranges in 64 bits, so offset + size cannot wrap.
bool overlaps(uint32_t offset, unsigned size, uint32_t start, uint32_t length) {
  const uint64_t end = uint64_t{offset} + size;
  return offset < uint64_t{start} + length && start < end;
}

// Applies `fn(byte_index, shifted_value_byte)` to the in-range bytes of an
// access; bytes at or past 0x1000 do not exist and are skipped.
template <typename Fn>
void for_each_byte(uint32_t offset, unsigned size, uint32_t value, Fn fn) {
  for (unsigned i = 0; i < size; ++i) {
    const uint64_t at = uint64_t{offset} + i;
    if (at >= kConfigSpaceSize) return;
    fn(static_cast<size_t>(at), static_cast<uint8_t>(value >> (8 * i)));
  }
}

}  // namespace

uint32_t ConfigSpace::read(uint32_t offset, unsigned size) const {
  if (!valid_access_size(size)) return ~uint32_t{0};
  uint32_t v = 0;
  for (unsigned i = 0; i < size; ++i) {
    const uint64_t at = uint64_t{offset} + i;
    // Past the end of config space reads like an absent register.
    const uint8_t byte = at < kConfigSpaceSize ? bytes_[at] : 0xFF;
    v |= uint32_t{byte} << (8 * i);
  }
  return v;
}

ConfigWriteEffects ConfigSpace::write(uint32_t offset, unsigned size, uint32_t value) {
  ConfigWriteEffects fx;
  if (!valid_access_size(size)) return fx;
  // Derived BAR state depends only on Command and the BARs: recompute it only
  // when the write touches one of them.
  const bool may_move_bars =
      overlaps(offset, size, kCommand, 2) || overlaps(offset, size, kBar0, 4 * kBarCount);
  std::array<std::optional<BarMapping>, kBarCount> before{};
  if (may_move_bars) before = live_bars();

  for_each_byte(offset, size, value, [this](size_t at, uint8_t v) {
    bytes_[at] = static_cast<uint8_t>((bytes_[at] & ~wmask_[at]) | (v & wmask_[at]));
    bytes_[at] = static_cast<uint8_t>(bytes_[at] & ~(v & w1cmask_[at]));
  });

  if (may_move_bars) {
    const auto after = live_bars();
    for (unsigned i = 0; i < kBarCount; ++i) {
      if (before[i] != after[i]) fx.bars_changed |= static_cast<uint8_t>(1u << i);
    }
  }
  fx.msi_changed = touches_capability(offset, size, kCapIdMsi);
  return fx;
}

std::optional<BarMapping> ConfigSpace::bar_mapping(unsigned index) const {
  if (index >= kBarCount || bar_sizes_[index] == 0) return std::nullopt;
  if ((command() & kCommandMemorySpace) == 0) return std::nullopt;
  const uint64_t size = bar_sizes_[index];
  const uint64_t address_mask = ~(size - 1) & ~uint64_t{kBarMemFlagsMask};
  const auto low_mask = static_cast<uint32_t>(address_mask);
  const uint32_t low = read(bar_offset(index), 4) & low_mask;
  uint32_t high = 0;
  if (bar_is_64bit_[index]) {
    const auto high_mask = static_cast<uint32_t>(address_mask >> kDwordBits);
    high = read(bar_offset(index + 1), 4);
    // The upper half still holding the sizing probe: no real address.
    if (high == high_mask) return std::nullopt;
  }
  // 0 is "not assigned"; the mask itself is what the sizing probe of the
  // lower register leaves behind. Xen would route either range to us and
  // steal it from whatever really lives there.
  if (high == 0 && (low == 0 || low == low_mask)) return std::nullopt;
  return BarMapping{uint64_t{high} << kDwordBits | low, size};
}

void ConfigSpace::store(uint32_t offset, unsigned size, uint32_t value) {
  for_each_byte(offset, size, value, [this](size_t at, uint8_t v) { bytes_[at] = v; });
}

void ConfigSpace::set_writable(uint32_t offset, unsigned size, uint32_t mask) {
  for_each_byte(offset, size, mask, [this](size_t at, uint8_t m) { wmask_[at] = m; });
}

void ConfigSpace::set_write_one_to_clear(uint32_t offset, unsigned size, uint32_t mask) {
  for_each_byte(offset, size, mask, [this](size_t at, uint8_t m) { w1cmask_[at] = m; });
}

Status ConfigSpace::register_bar(unsigned index, uint64_t size, uint32_t flags) {
  const bool is_64bit = (flags & kBarMemType64) != 0;
  if (index >= kBarCount || (is_64bit && index + 1 >= kBarCount)) {
    return Error{0, "BAR " + std::to_string(index) + " does not exist"};
  }
  if ((flags & ~kBarFlagsAllowed) != 0) {
    return Error{0, "BAR flags " + hex(flags) + ": only memory BARs are supported"};
  }
  const uint64_t max = is_64bit ? kMaxBar64Size : kMaxBar32Size;
  if (!std::has_single_bit(size) || size < kMinBarSize || size > max) {
    return Error{0, "BAR size " + std::to_string(size) + " is not a power of two in " +
                        std::to_string(kMinBarSize) + " .. " + std::to_string(max)};
  }
  const uint64_t writable = ~(size - 1) & ~uint64_t{kBarMemFlagsMask};
  const uint32_t reg = bar_offset(index);
  store(reg, 4, flags);
  set_writable(reg, 4, static_cast<uint32_t>(writable));
  set_write_one_to_clear(reg, 4, 0);
  if (is_64bit) {
    store(reg + 4, 4, 0);
    set_writable(reg + 4, 4, static_cast<uint32_t>(writable >> kDwordBits));
    set_write_one_to_clear(reg + 4, 4, 0);
  }
  bar_sizes_[index] = size;
  bar_is_64bit_[index] = is_64bit;
  return ok_status();
}

Result<uint8_t> ConfigSpace::append_capability(const uint8_t* initial, const uint8_t* writable,
                                               size_t size) {
  uint32_t at = kFirstCapabilityOffset;
  if (!capabilities_.empty()) {
    const CapabilityInfo& last = capabilities_.back();
    at = (uint32_t{last.offset} + last.size + 3) & ~uint32_t{3};
  }
  if (at + size > kLegacyConfigSize) {
    return Error{0, "capability " + hex(initial[0]) + " of " + std::to_string(size) +
                        " bytes does not fit below " + hex(kLegacyConfigSize)};
  }
  for (size_t i = 0; i < size; ++i) {
    bytes_[at + i] = initial[i];
    wmask_[at + i] = writable[i];
    w1cmask_[at + i] = 0;
  }
  // The chain owns the links: id and next are never guest-writable.
  wmask_[at] = 0;
  wmask_[at + kCapNextByte] = 0;
  bytes_[at + kCapNextByte] = kCapChainEnd;
  const uint32_t link =
      capabilities_.empty() ? kCapabilitiesPointer : capabilities_.back().offset + kCapNextByte;
  bytes_[link] = static_cast<uint8_t>(at);
  store(kStatus, 2, status() | kStatusCapabilitiesList);
  const auto offset = static_cast<uint8_t>(at);
  capabilities_.push_back({initial[0], offset, static_cast<uint8_t>(size)});
  return offset;
}

std::optional<uint8_t> ConfigSpace::find_capability(uint8_t id) const {
  if ((status() & kStatusCapabilitiesList) == 0) return std::nullopt;
  uint8_t at = bytes_[kCapabilitiesPointer];
  for (unsigned hops = 0; at != kCapChainEnd && hops < kMaxCapabilityWalk; ++hops) {
    if (bytes_[at] == id) return at;
    at = bytes_[at + kCapNextByte];
  }
  return std::nullopt;
}

std::array<std::optional<BarMapping>, kBarCount> ConfigSpace::live_bars() const {
  std::array<std::optional<BarMapping>, kBarCount> bars{};
  for (unsigned i = 0; i < kBarCount; ++i) bars[i] = bar_mapping(i);
  return bars;
}

bool ConfigSpace::touches_capability(uint32_t offset, unsigned size, uint8_t id) const {
  for (const CapabilityInfo& cap : capabilities_) {
    if (cap.id == id && overlaps(offset, size, cap.offset, cap.size)) return true;
  }
  return false;
}

ConfigSpace::Saved ConfigSpace::saved() const {
  Saved out;
  std::copy_n(bytes_.begin(), out.size(), out.begin());
  return out;
}

void ConfigSpace::restore_writable(const Saved& saved) {
  for (size_t i = 0; i < saved.size(); ++i)
    bytes_[i] = static_cast<uint8_t>((bytes_[i] & ~wmask_[i]) | (saved[i] & wmask_[i]));
}

}  // namespace vgpu::pci
