// Keeps the XenStore backend (docs/spec.md §4) in step with the daemon:
// Initialising when published, InitWait once the ioreq server is enabled,
// Connected once the SBDF is claimed, the BAR addresses as the guest moves
// them (coalesced: at most one write per key per kBarUpdateInterval), then
// Closing/Closed and removal at shutdown.
//
// Thread-compatible: used from the daemon's thread only.
#pragma once

#include <chrono>
#include <memory>

#include "vgpu/app/coalesced_updates.h"
#include "vgpu/app/daemon.h"
#include "vgpu/xenstore/backend_publisher.h"

namespace vgpu::app {

class BackendState final : public DaemonObserver {
 public:
  static constexpr auto kBarUpdateInterval = std::chrono::milliseconds(100);

  static Result<std::unique_ptr<BackendState>> create(xenstore::Store& store,
                                                      xenstore::BackendInfo info);

  // Creates the nodes in state Initialising. EBUSY: another live daemon
  // owns this backend.
  Status publish() { return publisher_.publish(); }
  // Connected: the launcher may unpause the guest now.
  Status connected() { return publisher_.set_state(xenstore::XenbusState::kConnected); }
  // Writes what is held back, then Closing.
  Status closing();
  // Closed, then removes everything publish() created.
  Status teardown() { return publisher_.teardown(); }

  void server_enabled(hv::ServerId id) override;
  void bar_changed(unsigned index, std::optional<pci::BarMapping> now) override;
  void device_status(std::string_view key, std::string_view value) override;

  // Readable when held-back updates are due; call on_timer() then.
  int timer_fd() const { return updates_->fd(); }
  Status on_timer() { return updates_->on_timer(); }

 private:
  BackendState(xenstore::Store& store, xenstore::BackendInfo info)
      : publisher_(store, std::move(info)) {}
  void check(const Status& s, std::string_view what);

  xenstore::BackendPublisher publisher_;
  std::optional<CoalescedUpdates> updates_;  // set by create()
};

}  // namespace vgpu::app
