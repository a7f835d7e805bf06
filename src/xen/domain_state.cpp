#include "domain_state.h"

#include "xen_handles.h"

namespace vgpu::xen::detail {

static_assert(kShutdownPoweroff == SHUTDOWN_poweroff && kShutdownReboot == SHUTDOWN_reboot &&
              kShutdownSuspend == SHUTDOWN_suspend && kShutdownCrash == SHUTDOWN_crash &&
              kShutdownWatchdog == SHUTDOWN_watchdog && kShutdownSoftReset == SHUTDOWN_soft_reset);

hv::DomainInfo domain_state(bool hvm, bool dying, bool shutdown, unsigned reason) {
  hv::DomainInfo out;
  out.exists = true;
  out.hvm = hvm;
  out.suspended = !dying && shutdown && reason == kShutdownSuspend;
  out.dying = dying || (shutdown && !out.suspended);
  out.abnormal_shutdown = shutdown && reason != kShutdownPoweroff && reason != kShutdownSuspend;
  return out;
}

}  // namespace vgpu::xen::detail
