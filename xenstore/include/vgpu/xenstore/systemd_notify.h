// sd_notify for the systemd unit (Type=notify). Not started by systemd
// (NOTIFY_SOCKET unset): success without doing anything.
#pragma once

#include <string_view>

#include "vgpu/common/result.h"

namespace vgpu {

// READY=1, plus STATUS=<status> when given. Send once the backend is Connected.
Status notify_systemd_ready(std::string_view status = {});
// STOPPING=1, at the start of an orderly teardown.
Status notify_systemd_stopping();

}  // namespace vgpu
