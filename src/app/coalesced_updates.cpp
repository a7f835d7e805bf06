#include "vgpu/app/coalesced_updates.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <utility>

namespace vgpu::app {

Result<CoalescedUpdates> CoalescedUpdates::create(Clock::duration interval, Write write) {
  const int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  if (fd < 0) return errno_error("timerfd_create");
  return CoalescedUpdates(interval, std::move(write), fd);
}

CoalescedUpdates::~CoalescedUpdates() {
  if (timer_fd_ >= 0) ::close(timer_fd_);
}

CoalescedUpdates::CoalescedUpdates(CoalescedUpdates&& other) noexcept
    : interval_(other.interval_),
      write_(std::move(other.write_)),
      timer_fd_(std::exchange(other.timer_fd_, -1)),
      keys_(std::move(other.keys_)) {}

void CoalescedUpdates::set(const std::string& key, const std::string& value,
                           Clock::time_point now) {
  Key& k = keys_[key];
  if (k.last_write == Clock::time_point{} || now - k.last_write >= interval_) {
    write_now(key, k, value, now);
    return;
  }
  const bool was_idle = !k.held;
  k.held = value;
  if (was_idle) arm();
}

Status CoalescedUpdates::on_timer(Clock::time_point now) {
  uint64_t expirations = 0;
  if (::read(timer_fd_, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
    return errno_error("reading the XenStore coalescing timer");
  for (auto& [key, k] : keys_) {
    if (k.held && now - k.last_write >= interval_)
      write_now(key, k, *std::exchange(k.held, {}), now);
  }
  arm();
  return {};
}

void CoalescedUpdates::flush() {
  const Clock::time_point now = Clock::now();
  for (auto& [key, k] : keys_) {
    if (k.held) write_now(key, k, *std::exchange(k.held, {}), now);
  }
  arm();
}

void CoalescedUpdates::write_now(const std::string& key, Key& k, std::string value,
                                 Clock::time_point now) {
  k.last_write = now;
  k.held.reset();
  write_(key, value);
}

// Sets the timer to the earliest moment a held-back value is due; disarms
// it when nothing is held.
void CoalescedUpdates::arm() {
  std::optional<Clock::time_point> due;
  for (const auto& [key, k] : keys_) {
    if (!k.held) continue;
    const Clock::time_point at = k.last_write + interval_;
    if (!due || at < *due) due = at;
  }
  itimerspec spec{};
  if (due) {
    // steady_clock is CLOCK_MONOTONIC on Linux, so the deadline is absolute
    // in the timer's own clock. A deadline already past fires at once.
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(due->time_since_epoch());
    const int64_t count = std::max<int64_t>(ns.count(), 1);
    spec.it_value.tv_sec = count / 1'000'000'000;
    spec.it_value.tv_nsec = count % 1'000'000'000;
  }
  ::timerfd_settime(timer_fd_, due ? TFD_TIMER_ABSTIME : 0, &spec, nullptr);
}

}  // namespace vgpu::app
