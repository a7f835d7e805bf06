// "0x1f": the one way numbers are shown in hex in messages, for code that
// builds a std::string without fmt (fmt users write {:#x}).
#pragma once

#include <cstdint>
#include <string>

namespace vgpu {

std::string hex(uint64_t value);

}  // namespace vgpu
