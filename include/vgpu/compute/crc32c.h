// CRC-32C (Castagnoli, as iSCSI and ext4 use it), from ISA-L (Debian's
// libisal), which picks a hardware-accelerated version at run time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace vgpu::compute {

// The CRC of "123456789", the standard check value.
inline constexpr uint32_t kCrc32cCheck = 0xE3069283;

// Extends `crc` (0 for an empty prefix) over `data`:
// crc32c_extend(crc32c_extend(0, a), b) == crc32c_extend(0, a ++ b).
uint32_t crc32c_extend(uint32_t crc, std::span<const std::byte> data);

}  // namespace vgpu::compute
