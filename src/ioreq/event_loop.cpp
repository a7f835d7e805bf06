#include "vgpu/ioreq/event_loop.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

namespace vgpu::ioreq {

EventLoop::EventLoop() : stop_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

EventLoop::~EventLoop() {
  if (stop_fd_ >= 0) close(stop_fd_);
}

void EventLoop::add(int fd, Handler handler) {
  entries_.push_back({fd, std::move(handler)});
}

void EventLoop::remove(int fd) {
  std::erase_if(entries_, [fd](const Entry& e) { return e.fd == fd; });
}

void EventLoop::request_stop() {
  const uint64_t one = 1;
  // Best effort: a full counter already means "stop".
  [[maybe_unused]] ssize_t n = write(stop_fd_, &one, sizeof one);
}

Status EventLoop::run() {
  if (stop_fd_ < 0) return Error{EMFILE, "event loop: cannot create its stop eventfd"};
  std::vector<pollfd> fds;
  std::vector<short> revents;
  for (;;) {
    fds.clear();
    fds.push_back({stop_fd_, POLLIN, 0});
    for (const Entry& e : entries_) fds.push_back({e.fd, POLLIN, 0});
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return errno_error("event loop: poll");
    }
    if (fds[0].revents) return {};
    revents.clear();
    for (size_t i = 1; i < fds.size(); ++i) revents.push_back(fds[i].revents);
    if (Status s = dispatch_ready(revents); !s) return s;
  }
}

Status EventLoop::dispatch_ready(const std::vector<short>& revents) {
  const size_t n = std::min(revents.size(), entries_.size());
  for (size_t i = 0; i < n; ++i) {
    if (revents[i] & (POLLERR | POLLNVAL))
      return Error{EIO, "event loop: fd " + std::to_string(entries_[i].fd) + " failed"};
    if (revents[i] & (POLLIN | POLLHUP)) {
      if (Status s = entries_[i].handler(); !s) return s;
    }
  }
  return {};
}

}  // namespace vgpu::ioreq
