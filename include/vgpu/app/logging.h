// Logging set-up: spdlog, one line per event, the domid in every line so that
// several daemons can share /var/log/xen or the journal.
#pragma once

#include <cstdint>
#include <string>

#include "vgpu/common/result.h"

namespace vgpu::app {

// Installs the default logger: to `file` (appending) if non-empty, else to
// stderr. `level` is an spdlog level name. Fails if the file cannot be opened.
Status setup_logging(uint16_t domid, const std::string& level, const std::string& file);

}  // namespace vgpu::app
