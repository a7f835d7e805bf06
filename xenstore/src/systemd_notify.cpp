#include "vgpu/xenstore/systemd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

namespace vgpu {

namespace {

// The readiness protocol of sd_notify(3): one datagram of "KEY=VALUE" lines
// to the AF_UNIX socket named by $NOTIFY_SOCKET ('@' = abstract namespace).
// systemd documents it as a stable interface to implement directly; doing so
// keeps libsystemd and the compression and crypto libraries it loads out of
// a daemon that runs once per guest.
Status notify(const std::string& message) {
  const char* socket_path = std::getenv("NOTIFY_SOCKET");
  if (!socket_path || !*socket_path) return ok_status();  // not under systemd

  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const size_t len = std::strlen(socket_path);
  if (len >= sizeof addr.sun_path || (socket_path[0] != '/' && socket_path[0] != '@'))
    return Error{EINVAL, std::string("NOTIFY_SOCKET is not a usable socket: ") + socket_path};
  std::memcpy(addr.sun_path, socket_path, len);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';
  const auto addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);

  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_error("sd_notify: socket");
  const ssize_t sent = sendto(fd, message.data(), message.size(), MSG_NOSIGNAL,
                              reinterpret_cast<const sockaddr*>(&addr), addr_len);
  const int err = errno;
  close(fd);
  if (sent != static_cast<ssize_t>(message.size()))
    return Error{sent < 0 ? err : EMSGSIZE, "sd_notify(" + message + ") to " + socket_path};
  return ok_status();
}

}  // namespace

Status notify_systemd_ready(std::string_view status) {
  std::string message = "READY=1";
  if (!status.empty()) message += "\nSTATUS=" + std::string(status);
  return notify(message);
}

Status notify_systemd_stopping() {
  return notify("STOPPING=1");
}

}  // namespace vgpu
