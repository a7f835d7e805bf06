// XsStore: Store over the real libxenstore (xs_open, one connection).
#pragma once

#include <memory>

#include "vgpu/common/result.h"
#include "vgpu/xenstore/store.h"

namespace vgpu::xenstore {

// Connects to xenstored (socket or /dev/xen/xenbus, as xs_open(0) decides).
// Fails with a sentence naming the likely cause when xenstored is not
// reachable (not Dom0, xenstored not running, no privileges).
Result<std::unique_ptr<Store>> open_xenstore();

}  // namespace vgpu::xenstore
