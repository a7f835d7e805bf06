#include "vgpu/sim/sim_event_channels.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "sim_internal.h"

namespace vgpu::sim {

namespace {

Status epoll_add(int epoll_fd, int fd, hv::Port port) {
  epoll_event ev{};
  ev.events = EPOLLIN;  // level-triggered: readable while the eventfd count is non-zero
  ev.data.u32 = port;
  if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) return errno_error("epoll_ctl(ADD)");
  return ok_status();
}

Error unknown_port(hv::Port port) {
  return Error{EINVAL, format("local port %u is not bound by this handle", port)};
}

}  // namespace

SimEventChannels::SimEventChannels(SimHypervisor& hv) : hv_(hv) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
}

SimEventChannels::~SimEventChannels() {
  {
    std::lock_guard lock(hv_.mutex_);
    while (!locals_.empty()) (void)release_locked(locals_.begin()->first);
  }
  ::close(epoll_fd_);
}

Result<hv::Port> SimEventChannels::bind(hv::Port remote_port) {
  std::lock_guard lock(hv_.mutex_);
  if (Status s = hv_.check_domain_locked(); !s) return s.error();
  auto it = hv_.remote_ports_.find(remote_port);
  const SimHypervisor::Server* server =
      it == hv_.remote_ports_.end() ? nullptr : hv_.server_locked(it->second.server);
  if (server == nullptr || !server->enabled) {
    return Error{EINVAL, format("remote port %u is not the vp_eport of an enabled ioreq server "
                                "(enable first, then read vp_eport)",
                                remote_port)};
  }
  if (it->second.bound_by != nullptr) {  // Xen: the remote end is no longer ECS_UNBOUND
    return Error{EINVAL, format("remote port %u is already bound", remote_port)};
  }
  const int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (efd < 0) return errno_error("eventfd");
  auto event = std::make_shared<EventFd>(efd);
  const hv::Port local = hv_.alloc_local_port_locked();
  if (Status s = epoll_add(epoll_fd_, efd, local); !s) return s.error();
  locals_[local] = Local{std::move(event), remote_port};
  hv_.local_owner_[local] = this;
  it->second.bound_by = this;
  it->second.local = local;
  return local;
}

// Caller holds the hypervisor's mutex. A vCPU thread may still hold the
// eventfd to signal it; it is closed when the last holder lets go.
Status SimEventChannels::release_locked(hv::Port local_port) {
  auto it = locals_.find(local_port);
  if (it == locals_.end()) return unknown_port(local_port);
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, it->second.event->fd, nullptr);
  auto remote = hv_.remote_ports_.find(it->second.remote);
  if (it->second.remote != 0 && remote != hv_.remote_ports_.end()) {
    remote->second.bound_by = nullptr;  // unbound again, as in Xen
    remote->second.local = 0;
  }
  hv_.local_owner_.erase(local_port);
  locals_.erase(it);
  return ok_status();
}

Status SimEventChannels::unbind(hv::Port local_port) {
  std::lock_guard lock(hv_.mutex_);
  if (auto it = locals_.find(local_port); it != locals_.end()) {
    auto remote = hv_.remote_ports_.find(it->second.remote);
    hv_.record_transport_locked(SimCallKind::kUnbindPort, remote == hv_.remote_ports_.end()
                                                              ? hv::ServerId{0}
                                                              : remote->second.server);
  }
  return release_locked(local_port);
}

// Only this handle's thread closes its eventfds (unbind, destructor), so the
// raw fds used below after unlocking stay valid.
Result<std::optional<hv::Port>> SimEventChannels::pending() {
  for (;;) {
    epoll_event ev{};
    const int n = ::epoll_wait(epoll_fd_, &ev, 1, 0);
    if (n < 0 && errno != EINTR) return errno_error("epoll_wait");
    if (n <= 0) return std::optional<hv::Port>{};  // spurious wake-up
    const hv::Port port = ev.data.u32;
    int efd = -1;
    bool deliver = false;
    {
      std::lock_guard lock(hv_.mutex_);
      auto it = locals_.find(port);
      if (it == locals_.end()) return std::optional<hv::Port>{};
      Local& l = it->second;
      // A vCPU that saw the port unmasked may write its eventfd just after
      // we masked it: keep that notification for unmask() instead.
      deliver = !l.masked;
      l.latched = l.latched || l.masked;
      l.masked = true;  // until unmask(), like the evtchn driver
      efd = l.event->fd;
    }
    drain_fd(efd);  // notifications coalesce, as a pending bit does
    if (deliver) return std::optional<hv::Port>{port};
  }
}

Status SimEventChannels::unmask(hv::Port local_port) {
  int resignal = -1;
  {
    std::lock_guard lock(hv_.mutex_);
    auto it = locals_.find(local_port);
    if (it == locals_.end()) return unknown_port(local_port);
    Local& l = it->second;
    if (l.masked && l.latched) resignal = l.event->fd;
    l.masked = false;
    l.latched = false;
  }
  if (resignal >= 0) signal_fd(resignal);  // delivered now, once
  return ok_status();
}

Status SimEventChannels::notify(hv::Port local_port) {
  int vcpu_fd = -1;
  {
    std::lock_guard lock(hv_.mutex_);
    auto it = locals_.find(local_port);
    if (it == locals_.end()) return unknown_port(local_port);
    auto remote = hv_.remote_ports_.find(it->second.remote);
    if (it->second.remote == 0 || remote == hv_.remote_ports_.end()) return ok_status();
    hv_.record_transport_locked(SimCallKind::kNotify, remote->second.server);
    vcpu_fd = hv_.vcpus_.at(remote->second.vcpu)->event_fd;
  }
  signal_fd(vcpu_fd);  // vCPU fds live as long as the hypervisor
  return ok_status();
}

size_t SimEventChannels::bound_count() const {
  std::lock_guard lock(hv_.mutex_);
  return locals_.size();
}

std::shared_ptr<EventFd> SimEventChannels::signal_locked(hv::Port local_port) {
  auto it = locals_.find(local_port);
  if (it == locals_.end()) return nullptr;
  if (it->second.masked) {
    it->second.latched = true;  // fd() stays unreadable until unmask()
    return nullptr;
  }
  return it->second.event;
}

void SimEventChannels::remote_closed_locked(hv::Port local_port) {
  auto it = locals_.find(local_port);
  if (it != locals_.end()) it->second.remote = 0;
}

}  // namespace vgpu::sim
