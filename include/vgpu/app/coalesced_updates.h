// Holds back repeated updates of the same key so that at most one write per
// key and `interval` leaves the daemon, while the newest value is always
// written in the end. A guest that toggles decoding or rewrites a BAR in a
// tight loop would otherwise make the daemon write XenStore for every
// toggle and keep xenstored (and every watcher of the backend) busy.
//
// The first change after a quiet interval is written at once, so normal
// boots see no delay; changes inside the interval are held and the newest
// is written when it ends. fd() is a timerfd, readable when held-back
// values are due; the event loop calls on_timer() then.
//
// Thread-compatible: used from the daemon's thread only.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "vgpu/common/result.h"

namespace vgpu::app {

class CoalescedUpdates {
 public:
  using Clock = std::chrono::steady_clock;
  using Write = std::function<void(const std::string& key, const std::string& value)>;

  static Result<CoalescedUpdates> create(Clock::duration interval, Write write);
  ~CoalescedUpdates();
  CoalescedUpdates(CoalescedUpdates&& other) noexcept;
  CoalescedUpdates& operator=(CoalescedUpdates&&) = delete;
  CoalescedUpdates(const CoalescedUpdates&) = delete;
  CoalescedUpdates& operator=(const CoalescedUpdates&) = delete;

  void set(const std::string& key, const std::string& value, Clock::time_point now = Clock::now());
  int fd() const { return timer_fd_; }
  // Writes every held-back value whose interval has ended by `now`.
  Status on_timer(Clock::time_point now = Clock::now());
  // Writes every held-back value now (before the daemon stops).
  void flush();

 private:
  struct Key {
    Clock::time_point last_write{};
    std::optional<std::string> held;
  };
  CoalescedUpdates(Clock::duration interval, Write write, int timer_fd)
      : interval_(interval), write_(std::move(write)), timer_fd_(timer_fd) {}
  void write_now(const std::string& key, Key& k, std::string value, Clock::time_point now);
  void arm();

  Clock::duration interval_;
  Write write_;
  int timer_fd_ = -1;
  std::map<std::string, Key> keys_;
};

}  // namespace vgpu::app
