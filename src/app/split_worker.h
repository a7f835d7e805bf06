// The worker half of serve_split() (private to src/app).
#pragma once

#include "vgpu/app/signals.h"
#include "vgpu/app/split.h"
#include "vgpu/app/worker_channel.h"

namespace vgpu::app::detail {

// Runs in the forked child: waits for kGo, brings the device up, sandboxes
// itself, serves until told to stop, tears the server down. Returns the
// child's exit status; the reason for a failure went to the supervisor as
// kFailed.
int run_worker(const Options& options, const DeviceSpec& device, const SplitSetup& setup,
               const Channel& channel, SignalFd& signals);

}  // namespace vgpu::app::detail
