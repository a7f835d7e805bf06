// sd_notify wrapper: silent success outside systemd, READY=1 inside.
#include "vgpu/xenstore/systemd_notify.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace vgpu {
namespace {

TEST(SystemdNotify, NoSocketIsSuccess) {
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_TRUE(notify_systemd_ready().ok());
  EXPECT_TRUE(notify_systemd_stopping().ok());
}

TEST(SystemdNotify, SendsReadyAndStatusToTheNotifySocket) {
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = "/tmp/vgpu-notify-test-" + std::to_string(::getpid());
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ::unlink(path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);

  EXPECT_TRUE(notify_systemd_ready("serving domain 7").ok());
  char buf[256] = {};
  const ssize_t n = ::recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
  EXPECT_EQ(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0),
            "READY=1\nSTATUS=serving domain 7");

  ::unsetenv("NOTIFY_SOCKET");
  ::close(fd);
  ::unlink(path.c_str());
}

TEST(SystemdNotify, UnreachableSocketIsAnError) {
  ::setenv("NOTIFY_SOCKET", "/nonexistent/vgpu-notify", 1);
  EXPECT_FALSE(notify_systemd_ready().ok());
  ::unsetenv("NOTIFY_SOCKET");
}

}  // namespace
}  // namespace vgpu
