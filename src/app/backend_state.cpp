#include "vgpu/app/backend_state.h"

#include <spdlog/spdlog.h>

namespace vgpu::app {

void BackendState::server_enabled(hv::ServerId id) {
  check(publisher_.set_ioreq_server(id), "ioreq-server");
  check(publisher_.set_state(xenstore::XenbusState::kInitWait), "state InitWait");
}

void BackendState::bar0_changed(std::optional<pci::BarMapping> now) {
  check(publisher_.set_bar0(now ? std::optional<uint64_t>(now->base) : std::nullopt), "bar0");
}

// XenStore is how administrators see us, not how the guest is served: a
// failed update is logged, and serving goes on.
void BackendState::check(const Status& s, const char* what) {
  if (!s) spdlog::warn("XenStore: cannot update {}: {}", what, s.error().describe());
}

}  // namespace vgpu::app
