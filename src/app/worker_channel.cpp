#include "vgpu/app/worker_channel.h"

#include <fmt/format.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "vgpu/xenstore/paths.h"

namespace vgpu::app {

namespace {

constexpr unsigned kMaxBars = 6;

bool plain(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '-';
}

bool printable(std::string_view s) {
  for (char c : s)
    if (c < 0x20 || c > 0x7e) return false;
  return true;
}

std::optional<uint64_t> number(std::string_view s, int base) {
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// A BAR's guest address as the device publishes it: "" or "0x" and hex.
bool bar_value(std::string_view v) {
  if (v.empty()) return true;
  return v.size() <= 18 && v.substr(0, 2) == "0x" && number(v.substr(2), 16).has_value();
}

bool is_bar_key(std::string_view key) {
  for (unsigned i = 0; i < kMaxBars; ++i)
    if (key == xenstore::keys::bar(i)) return true;
  return false;
}

}  // namespace

KeyPolicy::KeyPolicy(std::set<std::string> status_keys) : status_keys_(std::move(status_keys)) {}

std::string KeyPolicy::check(std::string_view key, std::string_view value) const {
  if (value.size() > kMaxValue) return fmt::format("value of {} is {} bytes", key, value.size());
  if (is_bar_key(key)) return bar_value(value) ? "" : fmt::format("{} is not a BAR address", key);
  if (!status_keys_.contains(std::string(key))) return "key is not one the worker may write";
  for (char c : value)
    if (!plain(c)) return fmt::format("value of {} has a character outside [A-Za-z0-9._:-]", key);
  return {};
}

std::string KeyPolicy::check_from_worker(const Message& m) const {
  switch (m.type) {
    case MessageType::kServerEnabled: {
      const auto id = number(m.value, 10);
      if (!id || *id > 0xffff || !m.key.empty()) return "ioreq server id out of range";
      return {};
    }
    case MessageType::kSetKey:
      return check(m.key, m.value);
    case MessageType::kReady:
    case MessageType::kClosing:
      return m.key.empty() && m.value.empty() && m.code == 0 ? "" : "unexpected payload";
    case MessageType::kFailed:
      if (m.code != 1 && m.code != 2) return "exit code must be 1 or 2";
      return printable(m.value) && m.key.empty() ? "" : "reason is not one printable line";
    default:
      return fmt::format("message type {} is not one the worker sends",
                         static_cast<unsigned>(m.type));
  }
}

Status encode(const Message& m, unsigned char (&out)[kWireSize]) {
  if (m.key.size() > Message::kMaxKey || m.value.size() > Message::kMaxValue)
    return Error{EINVAL, "message key or value too long"};
  std::memset(out, 0, kWireSize);
  out[0] = static_cast<unsigned char>(m.type);
  out[1] = m.code;
  out[2] = static_cast<unsigned char>(m.key.size());
  out[3] = static_cast<unsigned char>(m.value.size());
  std::memcpy(out + 4, m.key.data(), m.key.size());
  std::memcpy(out + 4 + Message::kMaxKey, m.value.data(), m.value.size());
  return {};
}

Result<Message> decode(const unsigned char* data, size_t size) {
  if (size != kWireSize) return Error{EPROTO, fmt::format("message of {} bytes", size)};
  if (data[2] > Message::kMaxKey || data[3] > Message::kMaxValue)
    return Error{EPROTO, "message lengths out of bounds"};
  Message m;
  m.type = static_cast<MessageType>(data[0]);
  m.code = data[1];
  m.key.assign(reinterpret_cast<const char*>(data + 4), data[2]);
  m.value.assign(reinterpret_cast<const char*>(data + 4 + Message::kMaxKey), data[3]);
  return m;
}

Result<std::pair<Channel, Channel>> Channel::pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
    return errno_error("socketpair");
  return std::pair<Channel, Channel>{Channel(fds[0]), Channel(fds[1])};
}

Channel& Channel::operator=(Channel&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

Channel::~Channel() {
  close();
}

void Channel::close() {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
}

Status Channel::send(const Message& m) const {
  unsigned char wire[kWireSize];
  if (Status s = encode(m, wire); !s) return s;
  ssize_t n;
  do {
    n = ::send(fd_, wire, sizeof wire, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno_error("sending on the worker channel");
  return {};
}

Result<std::optional<Message>> Channel::receive() const {
  // One byte more than a message, so that an oversized datagram shows as one
  // (MSG_TRUNC returns its real length).
  unsigned char wire[kWireSize + 1];
  ssize_t n;
  do {
    n = ::recv(fd_, wire, sizeof wire, MSG_TRUNC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno_error("reading the worker channel");
  if (n == 0) return std::optional<Message>{};
  auto m = decode(wire, static_cast<size_t>(n));
  if (!m) return m.error();
  return std::optional<Message>{std::move(*m)};
}

}  // namespace vgpu::app
