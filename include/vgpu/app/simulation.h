// --simulate: the real daemon against the simulated hypervisor, with a guest
// that enumerates the bus like hvmloader and Linux, prints what `lspci -nnv`
// would show for the device, and sends a PING through BAR0. Runs anywhere.
#pragma once

#include "vgpu/app/options.h"

namespace vgpu::app {

// Returns the process exit code: 0 only if the guest saw the device as the
// spec describes and the PING round trip succeeded.
int run_simulation(const Options& options);

}  // namespace vgpu::app
