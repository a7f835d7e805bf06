// The daemon's life from parsed options to exit code (docs/spec.md §5):
// 2 for bad input with nothing left behind, 1 for a runtime failure, 0 after
// an orderly teardown (SIGTERM/SIGINT, or the guest going away).
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "vgpu/app/daemon.h"
#include "vgpu/app/options.h"
#include "vgpu/hv/hypervisor.h"
#include "vgpu/pci/identity.h"
#include "vgpu/xenstore/store.h"

namespace vgpu::app {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;
inline constexpr int kExitUsage = 2;

// The device a daemon serves: what it is (for XenStore and the logs) and how
// to build it.
struct DeviceSpec {
  pci::DeviceIdentity identity;
  pci::DeviceFactory make_device;
  // Device-specific backend keys and their values at start (the stub's
  // queue state and mem-limit); the device reports later changes.
  std::vector<std::pair<std::string, std::string>> status_keys;
  // The same device keeping its memory in `memory_fd`, a file that outlives
  // the process (restart, docs/spec.md §12); null for a device without.
  std::function<pci::DeviceFactory(int memory_fd)> factory_with_memory_file;
};

// The vGPU stub as the options configure it.
DeviceSpec stub_device(const Options& options);

// Extra steps around serving, for the scripted guest of vgpu-sim.
struct ServeHooks {
  // Once the daemon is Connected, on the daemon's thread, before it starts
  // serving; may add fds to the loop and start threads, must not block.
  std::function<void(Daemon&)> on_ready;
  // After teardown (the server is destroyed, so no vCPU is blocked on it).
  std::function<void()> after_teardown;
};

// Everything after the hypervisor and XenStore are open: domain checks,
// instance lock, XenStore backend, bring-up, pid file, readiness, serving
// until stopped or the guest is gone, teardown. Logging is set up.
int serve(hv::Hypervisor& hv, xenstore::Store& store, const Options& options,
          const DeviceSpec& device, const ServeHooks& hooks = {});

// Prints the one-line error of docs/spec.md §5 ("<program>: <message>"), logs
// it when the log goes to a file, and returns `code`.
int fail(const Options& options, int code, const std::string& message);

// What both process models check and say the same way (the single-process
// serve() and the split supervisor and worker):
// The domain as queried, or why it cannot host us: absent, not HVM or
// shutting down is bad input (docs/spec.md §5); the message names it.
Result<hv::DomainInfo> hostable_domain(uint16_t domid, Result<hv::DomainInfo> info);
// The exit code and one-line message for a failed bring-up: a claim Xen
// refuses as taken is the user's input (the SBDF belongs to another device
// model); anything else is a runtime failure.
struct Failure {
  int code;
  std::string message;
};
Failure bring_up_failure(const Options& options, const Error& e);

}  // namespace vgpu::app
