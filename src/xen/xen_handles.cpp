#include "xen_handles.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace vgpu::xen::detail {

void DevicemodelCloser::operator()(xendevicemodel_handle* h) const {
  xendevicemodel_close(h);
}
void ForeignMemoryCloser::operator()(xenforeignmemory_handle* h) const {
  xenforeignmemory_close(h);
}
void EvtchnCloser::operator()(xenevtchn_handle* h) const {
  xenevtchn_close(h);
}
void XenctrlCloser::operator()(xc_interface* h) const {
  xc_interface_close(h);
}

namespace {

// Every failing Xen call already comes back to the daemon as an Error that
// names the call and carries errno, and docs/spec.md §5 wants a startup failure
// to be one line on stderr. So libxen's own messages are detail: trace for its
// chatter, debug for everything else, never louder.
spdlog::level::level_enum to_spdlog_level(xentoollog_level level) {
  return level <= XTL_DETAIL ? spdlog::level::trace : spdlog::level::debug;
}

// libxen's own severity, kept in the text (xtl_level_to_string would pull in
// libxentoollog just for this).
const char* level_name(xentoollog_level level) {
  if (level >= XTL_ERROR) return "error";
  if (level == XTL_WARN) return "warning";
  return "info";
}

__attribute__((format(printf, 5, 0))) void forward_message(xentoollog_logger* /*self*/,
                                                           xentoollog_level level, int errnoval,
                                                           const char* context, const char* format,
                                                           va_list args) {
  const auto spd_level = to_spdlog_level(level);
  if (!spdlog::default_logger_raw()->should_log(spd_level)) return;
  char text[512];
  std::vsnprintf(text, sizeof text, format, args);
  const char* ctx = context ? context : "xen";
  if (errnoval >= 0) {
    spdlog::log(spd_level, "libxen {} {}: {}: {}", ctx, level_name(level), text,
                std::strerror(errnoval));
  } else {
    spdlog::log(spd_level, "libxen {} {}: {}", ctx, level_name(level), text);
  }
}

// The logger is a process-lifetime object; nothing to free.
void ignore_destroy(xentoollog_logger* /*self*/) {}

xentoollog_logger g_tool_logger{&forward_message, nullptr, &ignore_destroy};

// What to tell the user when a handle cannot be opened.
Error open_error(std::string_view library, std::string_view device) {
  const int err = errno;
  std::string message = fmt::format("cannot open {} handle ({})", library, device);
  if (err == EACCES || err == EPERM) message += "; run vgpu-ioreqd as root in Dom0";
  if (err == ENOENT) message += "; run this in Dom0 of a Xen host with the Xen drivers loaded";
  return Error{err, std::move(message)};
}

}  // namespace

xentoollog_logger* spdlog_tool_logger() {
  return &g_tool_logger;
}

Result<DevicemodelHandle> open_devicemodel() {
  DevicemodelHandle h{xendevicemodel_open(spdlog_tool_logger(), 0)};
  if (!h) return open_error("xendevicemodel", "/dev/xen/privcmd");
  return h;
}

Result<ForeignMemoryHandle> open_foreignmemory() {
  ForeignMemoryHandle h{xenforeignmemory_open(spdlog_tool_logger(), 0)};
  if (!h) return open_error("xenforeignmemory", "/dev/xen/privcmd");
  return h;
}

Result<EvtchnHandle> open_evtchn() {
  EvtchnHandle h{xenevtchn_open(spdlog_tool_logger(), 0)};
  if (!h) return open_error("xenevtchn", "/dev/xen/evtchn");
  return h;
}

Result<XenctrlHandle> open_xenctrl() {
  XenctrlHandle h{xc_interface_open(spdlog_tool_logger(), spdlog_tool_logger(), 0)};
  if (!h) return open_error("xenctrl", "/dev/xen/privcmd");
  return h;
}

Error call_error(std::string_view call, uint16_t domid, std::string_view args) {
  const int err = errno;
  if (args.empty()) return Error{err, fmt::format("{}(dom {})", call, domid)};
  return Error{err, fmt::format("{}(dom {}, {})", call, domid, args)};
}

}  // namespace vgpu::xen::detail
