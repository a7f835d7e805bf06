// vgpu-ioreqd's privilege separation (docs/architecture.md "Two
// processes"): serve_split() forks, before any Xen or XenStore handle
// exists, into
//   - a supervisor (the original process, root): XenStore, the domain
//     watch, the instance lock, the pid file, sd_notify and the exit code;
//     it never reads guest memory or ioreqs;
//   - a worker (the child): opens the Xen handles, brings the device up,
//     confines the handles to the guest, becomes an unprivileged user with
//     no capabilities, no_new_privs and a seccomp allow-list, then serves.
// They speak only worker_channel.h's fixed messages. If the worker dies the
// supervisor logs how (the signal: SIGSYS for a forbidden system call),
// cleans XenStore and exits 1.
#pragma once

#include <functional>
#include <memory>

#include "vgpu/app/runner.h"
#include "vgpu/app/sandbox.h"
#include "vgpu/hv/hypervisor.h"
#include "vgpu/xenstore/store.h"

namespace vgpu::app {

// What the supervisor holds: XenStore and a way to ask about the domain.
struct SupervisorHandles {
  xenstore::Store* store = nullptr;
  std::function<Result<hv::DomainInfo>()> domain_info;
  std::shared_ptr<void> keep_alive;  // owns whatever the two above use
};

struct SplitSetup {
  // Supervisor side, after the fork. An error is bad input (exit 2).
  std::function<Result<SupervisorHandles>()> open_supervisor;
  // Worker side, after the fork and the supervisor's go. An error is bad
  // input (exit 2), as for the single-process daemon.
  std::function<Result<std::unique_ptr<hv::Hypervisor>>()> open_hypervisor;
  // Worker side, once the server is up and before deprivileging: confine the
  // hypervisor's handles to the guest and close those that cannot be.
  std::function<Status(hv::Hypervisor&)> restrict;
  // Whom the worker becomes.
  WorkerUser user;
  // Worker side, after the sandbox is in place and before kReady (tests:
  // make a forbidden system call).
  std::function<void()> after_sandbox;
  // Worker side: as ServeHooks::on_ready (a simulated guest).
  std::function<void(Daemon&)> on_ready;
};

// The daemon's whole life in two processes. Returns the exit code of
// docs/spec.md §5 in the supervisor; the worker never returns (_exit).
int serve_split(const Options& options, const DeviceSpec& device, const SplitSetup& setup);

}  // namespace vgpu::app
