// Private to src/xen: the Xen tool-library handles as RAII types, the bridge
// from libxen's logging into spdlog, and the error wording shared by the
// adapter. This is the only header in the project that includes the Xen
// libraries' headers; it needs GNU extensions (see src/xen/CMakeLists.txt).
#pragma once

extern "C" {
#include <xenctrl.h>
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xentoolcore.h>
#include <xentoollog.h>
}

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "vgpu/common/hex.h"
#include "vgpu/common/result.h"

namespace vgpu::xen::detail {

inline constexpr uint64_t kPageShift = XC_PAGE_SHIFT;
inline constexpr uint64_t kPageSize = uint64_t{1} << kPageShift;

struct DevicemodelCloser {
  void operator()(xendevicemodel_handle* h) const;
};
struct ForeignMemoryCloser {
  void operator()(xenforeignmemory_handle* h) const;
};
struct EvtchnCloser {
  void operator()(xenevtchn_handle* h) const;
};
struct XenctrlCloser {
  void operator()(xc_interface* h) const;
};

using DevicemodelHandle = std::unique_ptr<xendevicemodel_handle, DevicemodelCloser>;
using ForeignMemoryHandle = std::unique_ptr<xenforeignmemory_handle, ForeignMemoryCloser>;
using EvtchnHandle = std::unique_ptr<xenevtchn_handle, EvtchnCloser>;
using XenctrlHandle = std::unique_ptr<xc_interface, XenctrlCloser>;

// Each opener reports failure as "cannot open <library> handle (<device>)",
// telling the user to run as root in Dom0 when the kernel refused access.
Result<DevicemodelHandle> open_devicemodel();
Result<ForeignMemoryHandle> open_foreignmemory();
Result<EvtchnHandle> open_evtchn();
Result<XenctrlHandle> open_xenctrl();

// A logger that forwards libxen's messages to spdlog. It lives for the whole
// process, so handles may keep pointing at it.
xentoollog_logger* spdlog_tool_logger();

// An Error for a failed Xen call, from errno as it is now, worded
// "<call>(dom <domid>, <args>)".
Error call_error(std::string_view call, uint16_t domid, std::string_view args = {});

}  // namespace vgpu::xen::detail
