// A PCI address: segment, bus, device, function.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vgpu::pci {

struct Sbdf {
  uint16_t segment = 0;
  uint8_t bus = 0;
  uint8_t device = 0;    // 0..31
  uint8_t function = 0;  // 0..7

  // Xen's packed form, as in the high half of a PCI_CONFIG ioreq address:
  // seg << 16 | bus << 8 | dev << 3 | fn (00:05.0 -> 0x28).
  uint32_t packed() const {
    return uint32_t{segment} << 16 | uint32_t{bus} << 8 | uint32_t(device) << 3 | function;
  }
  static Sbdf from_packed(uint32_t v) {
    return Sbdf{static_cast<uint16_t>(v >> 16), static_cast<uint8_t>(v >> 8),
                static_cast<uint8_t>((v >> 3) & 0x1f), static_cast<uint8_t>(v & 7)};
  }

  // "0000:00:05.0", the form lspci -D and XenStore use.
  std::string to_string() const;

  friend bool operator==(const Sbdf&, const Sbdf&) = default;
};

// Parses "[SSSS:]BB:DD.F" (hex fields). On failure returns nullopt and, if
// `why` is given, a sentence naming the problem ("device 0x20 > 31").
std::optional<Sbdf> parse_sbdf(std::string_view text, std::string* why = nullptr);

}  // namespace vgpu::pci
