// Every XenStore path and key the daemon uses (docs/spec.md §4), in one place,
// except the device-specific status keys, which each device names itself
// (the vGPU stub's "queue" and "mem-limit": device/vgpu_stub.h).
// launcher/vgpu-hotplug and launcher/vgpu-xl-create spell the same paths in
// shell; keep them in step.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vgpu::xenstore {

// Key names inside the backend and frontend directories.
namespace keys {
inline constexpr std::string_view kFrontend = "frontend";
inline constexpr std::string_view kFrontendId = "frontend-id";
inline constexpr std::string_view kOnline = "online";
inline constexpr std::string_view kState = "state";
inline constexpr std::string_view kSbdf = "sbdf";
inline constexpr std::string_view kVendorId = "vendor-id";
inline constexpr std::string_view kDeviceId = "device-id";
inline constexpr std::string_view kClass = "class";
// "bar<N>": guest address of BAR N while it decodes, else empty;
// "bar<N>-size": its size in bytes. One pair per implemented BAR.
std::string bar(unsigned index);
std::string bar_size(unsigned index);
inline constexpr std::string_view kIoreqServer = "ioreq-server";
inline constexpr std::string_view kPid = "pid";
// Written by the launcher only, never by the daemon (hotplug convention).
inline constexpr std::string_view kHotplugStatus = "hotplug-status";
inline constexpr std::string_view kBackend = "backend";
inline constexpr std::string_view kBackendId = "backend-id";
}  // namespace keys

// The special path xenstored fires when any domain is destroyed.
inline constexpr std::string_view kReleaseDomainPath = "@releaseDomain";

struct XenstorePaths {
  static constexpr uint16_t kBackendDomid = 0;  // the daemon runs in Dom0
  static constexpr unsigned kDevid = 0;         // one vGPU per guest

  static XenstorePaths for_domain(uint16_t domid);

  uint16_t domid = 0;
  std::string backend_type_dir;    // /local/domain/0/backend/vgpu
  std::string backend_domain_dir;  // /local/domain/0/backend/vgpu/<domid>
  std::string backend;             // /local/domain/0/backend/vgpu/<domid>/0
  std::string frontend_type_dir;   // /local/domain/<domid>/device/vgpu
  std::string frontend;            // /local/domain/<domid>/device/vgpu/0

  std::string backend_key(std::string_view key) const;
  std::string frontend_key(std::string_view key) const;
  // Ancestors the daemon may have to create and should then remove again
  // when they are empty at teardown.
  std::vector<std::string> shared_parents() const;
};

}  // namespace vgpu::xenstore
