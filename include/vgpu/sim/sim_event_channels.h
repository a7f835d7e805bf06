// A xenevtchn handle onto the simulated hypervisor's event channels.
//
// Each bound local port owns an eventfd that the guest side signals; fd() is
// an epoll instance over all of them, registered level-triggered, so it is
// readable while any unmasked port is pending. pending() hands out one ready
// port, consumes its notifications and masks it until unmask(), as the Linux
// evtchn driver does. Masking is emulated in user space, with no epoll_ctl
// per event: a notification for a masked port is not written to its eventfd
// but latched, so fd() does not turn readable for it (a polling daemon
// cannot spin on it), and unmask() re-signals the eventfd if one was
// latched, so it is delivered then, exactly once.
//
// Thread-compatible, like a xenevtchn handle: one thread uses a handle. The
// guest side signals it from vCPU threads through the hypervisor, safely.
#pragma once

#include <map>
#include <memory>

#include "vgpu/hv/hypervisor.h"

namespace vgpu::sim {

class SimHypervisor;
struct EventFd;

class SimEventChannels final : public hv::EventChannels {
 public:
  ~SimEventChannels() override;  // unbinds every port, like xenevtchn_close
  SimEventChannels(const SimEventChannels&) = delete;
  SimEventChannels& operator=(const SimEventChannels&) = delete;

  int fd() const override { return epoll_fd_; }
  // `remote_port` must be a vp_eport of an enabled server of the target
  // domain (EINVAL otherwise, also when it is bound already).
  Result<hv::Port> bind(hv::Port remote_port) override;
  Status unbind(hv::Port local_port) override;
  Result<std::optional<hv::Port>> pending() override;
  Status unmask(hv::Port local_port) override;
  // Wakes the vCPU behind the port. Silently dropped once the remote end is
  // gone (server or domain destroyed), as EVTCHNOP_send does.
  Status notify(hv::Port local_port) override;

  // How many ports this handle has bound (for leak checks in tests).
  size_t bound_count() const;

 private:
  friend class SimHypervisor;
  explicit SimEventChannels(SimHypervisor& hv);

  struct Local {
    std::shared_ptr<EventFd> event;
    hv::Port remote = 0;  // 0 once the remote end has been closed
    bool masked = false;
    bool latched = false;  // notified while masked: deliver on unmask
  };

  // Caller holds the hypervisor's mutex.
  // A guest-side notification: returns the eventfd the caller must signal
  // once it has released the mutex, or nullptr (unbound, or masked and now
  // latched).
  std::shared_ptr<EventFd> signal_locked(hv::Port local_port);
  void remote_closed_locked(hv::Port local_port);
  Status release_locked(hv::Port local_port);

  SimHypervisor& hv_;
  int epoll_fd_ = -1;
  std::map<hv::Port, Local> locals_;  // guarded by the hypervisor's mutex
};

}  // namespace vgpu::sim
