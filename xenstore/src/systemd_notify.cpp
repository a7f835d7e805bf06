#include "vgpu/xenstore/systemd_notify.h"

#include <systemd/sd-daemon.h>

#include <string>

namespace vgpu {

namespace {

Status notify(const std::string& message) {
  // > 0 sent, 0 no NOTIFY_SOCKET (not under systemd), < 0 -errno.
  const int r = sd_notify(0, message.c_str());
  if (r < 0) return Error{-r, "sd_notify(" + message + ") failed"};
  return ok_status();
}

}  // namespace

Status notify_systemd_ready(std::string_view status) {
  std::string message = "READY=1";
  if (!status.empty()) message += "\nSTATUS=" + std::string(status);
  return notify(message);
}

Status notify_systemd_stopping() {
  return notify("STOPPING=1");
}

}  // namespace vgpu
