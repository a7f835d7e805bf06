// What xc_domain_getinfo's flags mean for the daemon (private to src/xen;
// a pure function, so that tests can check it without Xen).
#pragma once

#include "vgpu/hv/hypervisor.h"

namespace vgpu::xen::detail {

// xen/sched.h's SHUTDOWN_* reasons (domain_state.cpp checks they match).
inline constexpr unsigned kShutdownPoweroff = 0;
inline constexpr unsigned kShutdownReboot = 1;
inline constexpr unsigned kShutdownSuspend = 2;
inline constexpr unsigned kShutdownCrash = 3;
inline constexpr unsigned kShutdownWatchdog = 4;
inline constexpr unsigned kShutdownSoftReset = 5;

// The domain exists; `dying`, `shutdown` and `reason` are xc_dominfo_t's.
// A suspend is not an end: xl save destroys the domain once it is saved,
// which @releaseDomain reports again, and a checkpoint (xl save -c) resumes
// the same domain with its ioreq servers.
hv::DomainInfo domain_state(bool hvm, bool dying, bool shutdown, unsigned reason);

}  // namespace vgpu::xen::detail
