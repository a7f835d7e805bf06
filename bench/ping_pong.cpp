#include "ping_pong.h"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

namespace vgpu::bench {
namespace {

int checked(int rc, const char* what) {
  if (rc < 0) throw std::system_error(errno, std::generic_category(), what);
  return rc;
}

void epoll_add(int epoll_fd, int fd, uint32_t tag) {
  epoll_event ev{};
  ev.events = EPOLLIN;  // level-triggered, as SimEventChannels registers ports
  ev.data.u32 = tag;
  checked(epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev), "epoll_ctl(ADD)");
}

void signal_fd(int fd) {
  const uint64_t one = 1;
  (void)!write(fd, &one, sizeof one);
}

void drain_fd(int fd) {
  uint64_t count = 0;
  (void)!read(fd, &count, sizeof count);
}

}  // namespace

PingPong::PingPong(unsigned channels, bool mask_ports) : mask_ports_(mask_ports) {
  epoll_fd_ = checked(epoll_create1(EPOLL_CLOEXEC), "epoll_create1");
  stop_fd_ = checked(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), "eventfd");
  for (unsigned i = 0; i < channels; ++i) {
    Channel c;
    c.port_fd = checked(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), "eventfd");
    c.vcpu_fd = checked(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), "eventfd");
    epoll_add(epoll_fd_, c.port_fd, i);
    channels_.push_back(c);
  }
  thread_ = std::thread([this] { serve(); });
}

PingPong::~PingPong() {
  signal_fd(stop_fd_);
  thread_.join();
  for (const Channel& c : channels_) {
    close(c.port_fd);
    close(c.vcpu_fd);
  }
  close(stop_fd_);
  close(epoll_fd_);
}

// The client side mirrors a simulated vCPU: notify, then block on its own
// eventfd until the answer's notification arrives.
void PingPong::round_trip(unsigned channel) {
  const Channel& c = channels_[channel];
  signal_fd(c.port_fd);
  pollfd p{c.vcpu_fd, POLLIN, 0};
  while (poll(&p, 1, -1) <= 0) {
  }
  drain_fd(c.vcpu_fd);
}

// The server side mirrors EventLoop::run + IoreqServer::on_event: poll the
// stop fd and the epoll fd, then handle one pending port per wake-up.
void PingPong::serve() {
  pollfd fds[2] = {{stop_fd_, POLLIN, 0}, {epoll_fd_, POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) continue;
    if (fds[0].revents) return;
    if (fds[1].revents) serve_one();
  }
}

void PingPong::serve_one() {
  epoll_event ev{};
  if (epoll_wait(epoll_fd_, &ev, 1, 0) != 1) return;
  const Channel& c = channels_[ev.data.u32];
  drain_fd(c.port_fd);
  if (mask_ports_) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.port_fd, nullptr);
    epoll_add(epoll_fd_, c.port_fd, ev.data.u32);
  }
  signal_fd(c.vcpu_fd);
}

}  // namespace vgpu::bench
