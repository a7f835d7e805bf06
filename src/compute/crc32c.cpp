#include "vgpu/compute/crc32c.h"

#include <isa-l/crc.h>

#include <algorithm>
#include <climits>

namespace vgpu::compute {

uint32_t crc32c_extend(uint32_t crc, std::span<const std::byte> data) {
  // ISA-L's crc32_iscsi keeps the register un-inverted (start 0xFFFFFFFF,
  // no final XOR); the standard value is its complement, so a running CRC
  // is complemented on the way in and out. Its length is an int.
  uint32_t reg = ~crc;
  while (!data.empty()) {
    const size_t n = std::min<size_t>(data.size(), INT_MAX);
    // ISA-L does not write through the pointer; its prototype lacks const.
    auto* p = const_cast<unsigned char*>(reinterpret_cast<const unsigned char*>(data.data()));
    reg = crc32_iscsi(p, static_cast<int>(n), reg);
    data = data.subspan(n);
  }
  return ~reg;
}

}  // namespace vgpu::compute
