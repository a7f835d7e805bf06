// How teardown reports a failed release.
//
// After the guest is destroyed, Xen has already freed our server, ports and
// claims, and every release call fails with ESRCH: that is expected, not an
// error an administrator should chase. Anything else is.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

#include "vgpu/common/result.h"

namespace vgpu {

inline void log_release_failure(std::string_view what, const Status& s) {
  if (s) return;
  if (s.error().code == ESRCH)
    spdlog::debug("{}: domain already gone", what);
  else
    spdlog::error("{}: {}", what, s.error().describe());
}

}  // namespace vgpu
