// The only channel between the deprivileged worker (which serves the guest
// and so parses guest-controlled data) and the privileged supervisor (which
// holds XenStore and watches the domain): fixed-size messages over a
// SOCK_SEQPACKET socketpair (docs/hardening.md "Privilege separation").
//
// The worker is assumed compromised: the supervisor accepts from it only the
// message types below, and for kSetKey only a key from an allow-list and a
// short value of plain characters. It writes them under this backend's own
// directory, which the supervisor, not the worker, names. Anything else ends
// the worker.
//
// Thread-compatible: one Channel end per process.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "vgpu/common/result.h"

namespace vgpu::app {

enum class MessageType : uint8_t {
  // worker -> supervisor
  kServerEnabled = 1,  // value: the ioreq server id, decimal
  kSetKey = 2,         // a backend key the worker may update, and its value
  kReady = 3,          // deprivileged and about to serve: publish Connected
  kClosing = 4,        // stopping: publish Closing (teardown follows)
  kFailed = 5,         // code: the exit code; value: the one-line reason
  // supervisor -> worker
  kGo = 16,          // XenStore is published: bring the device up
  kStop = 17,        // SIGTERM/SIGINT reached the supervisor
  kDomainGone = 18,  // code 1: it shut down abnormally (dump the trace first)
  kDumpTrace = 19,   // SIGUSR1
};

struct Message {
  static constexpr size_t kMaxKey = 23;
  static constexpr size_t kMaxValue = 200;  // kFailed's reason; a key's value is shorter

  MessageType type{};
  uint8_t code = 0;
  std::string key;
  std::string value;

  friend bool operator==(const Message&, const Message&) = default;
};

// The wire form: one datagram of exactly this many bytes per message.
inline constexpr size_t kWireSize = 4 + Message::kMaxKey + Message::kMaxValue;

// What the supervisor lets the worker write, decided before the fork.
class KeyPolicy {
 public:
  static constexpr size_t kMaxValue = 64;

  // bar0..bar5 (a BAR's guest address or empty) and `status_keys` (the
  // device's own status keys, e.g. "queue", "mem-limit").
  explicit KeyPolicy(std::set<std::string> status_keys);
  // Empty if the worker may write `value` at `key`, else why not.
  std::string check(std::string_view key, std::string_view value) const;
  // Empty if `m` may come from the worker at all, else why not.
  std::string check_from_worker(const Message& m) const;

 private:
  std::set<std::string> status_keys_;
};

class Channel {
 public:
  // A connected SOCK_SEQPACKET pair, close-on-exec.
  static Result<std::pair<Channel, Channel>> pair();
  explicit Channel(int fd) : fd_(fd) {}
  Channel(Channel&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Channel& operator=(Channel&& other) noexcept;
  Channel(const Channel&) = delete;
  ~Channel();

  int fd() const { return fd_; }
  void close();
  // Blocks until sent. A key or value over its bound is EINVAL.
  Status send(const Message& m) const;
  // Blocks until a message arrives; nullopt when the peer has closed its end.
  // A datagram of the wrong size or with bad lengths is EPROTO.
  Result<std::optional<Message>> receive() const;

 private:
  int fd_ = -1;
};

// Encodes/decodes the wire form (exposed for tests).
Status encode(const Message& m, unsigned char (&out)[kWireSize]);
Result<Message> decode(const unsigned char* data, size_t size);

}  // namespace vgpu::app
