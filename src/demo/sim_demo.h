// vgpu-sim's demo: the real daemon against the simulated hypervisor and an
// in-memory XenStore, with a scripted guest that enumerates the bus like
// hvmloader and Linux, prints what `lspci -nnv` would show for the device,
// sends a PING through BAR0, and lists the XenStore backend. Runs anywhere.
#pragma once

#include "vgpu/app/options.h"

namespace vgpu::demo {

// Returns the process exit code: 0 only if the guest saw the device as
// docs/spec.md describes and every check of the script passed.
int run_simulation(const app::Options& options, unsigned vcpus);

}  // namespace vgpu::demo
