// Keeps the XenStore backend (spec section 4) in step with the daemon:
// Initialising when published, InitWait once the ioreq server is enabled,
// Connected once the SBDF is claimed, bar0 as the guest moves it, then
// Closing/Closed and removal at shutdown.
//
// Thread-compatible: used from the daemon's thread only.
#pragma once

#include "vgpu/app/daemon.h"
#include "vgpu/xenstore/backend_publisher.h"

namespace vgpu::app {

class BackendState final : public DaemonObserver {
 public:
  BackendState(xenstore::Store& store, xenstore::BackendInfo info) : publisher_(store, info) {}

  // Creates the nodes in state Initialising. EBUSY: another live daemon
  // owns this backend.
  Status publish() { return publisher_.publish(); }
  // Connected: the launcher may unpause the guest now.
  Status connected() { return publisher_.set_state(xenstore::XenbusState::kConnected); }
  Status closing() { return publisher_.set_state(xenstore::XenbusState::kClosing); }
  // Closed, then removes everything publish() created.
  Status teardown() { return publisher_.teardown(); }

  void server_enabled(hv::ServerId id) override;
  void bar0_changed(std::optional<pci::BarMapping> now) override;

  const xenstore::BackendPublisher& publisher() const { return publisher_; }

 private:
  void check(const Status& s, const char* what);
  xenstore::BackendPublisher publisher_;
};

}  // namespace vgpu::app
