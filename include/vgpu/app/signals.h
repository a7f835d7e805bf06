// SIGTERM/SIGINT (and SIGUSR1, which asks for the request trace) as an fd
// for the event loop (never tear down inside a signal handler). Construct
// before starting any thread, so that every thread inherits the blocked mask
// and the signal reaches the fd.
#pragma once

#include "vgpu/common/result.h"

namespace vgpu::app {

class SignalFd {
 public:
  static Result<SignalFd> open_for_termination();
  SignalFd(SignalFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  SignalFd& operator=(SignalFd&&) = delete;
  SignalFd(const SignalFd&) = delete;
  ~SignalFd();

  int fd() const { return fd_; }
  // Reads one pending signal; returns its number, or 0 if none.
  int take();

 private:
  explicit SignalFd(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace vgpu::app
