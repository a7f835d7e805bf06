#include "vgpu/common/hex.h"

#include <cinttypes>
#include <cstdio>

namespace vgpu {

std::string hex(uint64_t value) {
  char buf[sizeof "0x" + 16];
  std::snprintf(buf, sizeof buf, "%#" PRIx64, value);
  return buf;
}

}  // namespace vgpu
