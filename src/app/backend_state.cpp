#include "vgpu/app/backend_state.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "vgpu/xenstore/paths.h"

namespace vgpu::app {

Result<std::unique_ptr<BackendState>> BackendState::create(xenstore::Store& store,
                                                           xenstore::BackendInfo info) {
  std::unique_ptr<BackendState> state(new BackendState(store, std::move(info)));
  auto updates = CoalescedUpdates::create(
      kBarUpdateInterval, [self = state.get()](const std::string& key, const std::string& value) {
        self->check(self->publisher_.set_key(key, value), key);
      });
  if (!updates) return updates.error();
  state->updates_.emplace(std::move(*updates));
  return state;
}

Status BackendState::closing() {
  updates_->flush();
  return publisher_.set_state(xenstore::XenbusState::kClosing);
}

void BackendState::server_enabled(hv::ServerId id) {
  check(publisher_.set_ioreq_server(id), "ioreq-server");
  check(publisher_.set_state(xenstore::XenbusState::kInitWait), "state InitWait");
}

void BackendState::bar_changed(unsigned index, std::optional<pci::BarMapping> now) {
  updates_->set(xenstore::keys::bar(index), now ? fmt::format("{:#x}", now->base) : "");
}

void BackendState::device_status(std::string_view key, std::string_view value) {
  updates_->set(std::string(key), std::string(value));
}

// XenStore is how administrators see us, not how the guest is served: a
// failed update is logged, and serving goes on.
void BackendState::check(const Status& s, std::string_view what) {
  if (!s) spdlog::warn("XenStore: cannot update {}: {}", what, s.error().describe());
}

}  // namespace vgpu::app
