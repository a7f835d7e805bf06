// The demo's command-queue session, as a guest driver would run it.
#pragma once

#include "vgpu/pci/sbdf.h"
#include "vgpu/sim/sim_guest.h"
#include "vgpu/sim/sim_hypervisor.h"

namespace vgpu::demo {

// Rings in guest RAM, then ALLOC / WRITE / SAXPY / CRC32C / READ in one
// batch, results checked against what the guest computes itself; prints
// what it does. True if every answer was right.
bool run_queue_session(sim::SimHypervisor& hv, sim::SimGuest& guest, pci::Sbdf sbdf);

}  // namespace vgpu::demo
