// The worker half of serve_split() (private to src/app).
#pragma once

#include "vgpu/app/signals.h"
#include "vgpu/app/split.h"
#include "vgpu/app/state_file.h"
#include "vgpu/app/worker_channel.h"

namespace vgpu::app::detail {

// What the supervisor opened before the fork so that it outlives both
// processes (docs/spec.md §12): the state file and device memory's file.
struct Persistence {
  StateFile* state = nullptr;
  int memory_fd = -1;
};

// kGo's code: start afresh, or take over the server kGo's value names.
inline constexpr uint8_t kGoFresh = 0;
inline constexpr uint8_t kGoTakeOver = 1;

// Runs in the forked child: waits for kGo, brings the device up, sandboxes
// itself, serves until told to stop, tears the server down. Returns the
// child's exit status; the reason for a failure went to the supervisor as
// kFailed.
int run_worker(const Options& options, const DeviceSpec& device, const SplitSetup& setup,
               const Persistence& keep, const Channel& channel, SignalFd& signals);

}  // namespace vgpu::app::detail
