#include "vgpu/common/result.h"

#include <cstring>

namespace vgpu {

std::string Error::describe() const {
  if (code == 0) return message;
  return message + ": " + std::strerror(code);
}

Error errno_error(std::string message) {
  return Error{errno, std::move(message)};
}

}  // namespace vgpu
