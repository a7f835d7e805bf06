#include "vgpu/app/signals.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <utility>

namespace vgpu::app {

Result<SignalFd> SignalFd::open_for_termination() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGUSR1);  // not a termination: dumps the request trace
  if (int err = pthread_sigmask(SIG_BLOCK, &set, nullptr); err != 0)
    return Error{err, "cannot block SIGTERM/SIGINT/SIGUSR1"};
  const int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd < 0) return errno_error("cannot create signalfd");
  return SignalFd(fd);
}

SignalFd::~SignalFd() {
  if (fd_ >= 0) close(fd_);
}

int SignalFd::take() {
  signalfd_siginfo info{};
  if (read(fd_, &info, sizeof info) != static_cast<ssize_t>(sizeof info)) return 0;
  return static_cast<int>(info.ssi_signo);
}

}  // namespace vgpu::app
