// Rate limiting for events a guest can trigger at will (log lines, XenStore
// writes): a misbehaving guest must not be able to fill Dom0's disk through
// our log or keep xenstored busy. See RateLimitedLog for log lines.
#pragma once

#include <chrono>
#include <cstdint>
#include <utility>

namespace vgpu {

// Allows `burst` events per `period`; counts what it refuses so the next
// allowed line can say how many were dropped.
class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RateLimiter(unsigned burst = 10, Clock::duration period = std::chrono::seconds(1))
      : burst_(burst), period_(period) {}

  // True if the caller may log now. `suppressed` receives how many events
  // were refused since the last allowed one.
  bool allow(uint64_t* suppressed = nullptr, Clock::time_point now = Clock::now()) {
    if (now - window_start_ >= period_) {
      window_start_ = now;
      used_ = 0;
    }
    if (used_ >= burst_) {
      ++dropped_;
      return false;
    }
    ++used_;
    if (suppressed) *suppressed = dropped_;
    dropped_ = 0;
    return true;
  }

  // Events refused since the last allowed one; resets the count.
  uint64_t take_dropped() { return std::exchange(dropped_, 0); }

 private:
  unsigned burst_;
  Clock::duration period_;
  Clock::time_point window_start_{};
  unsigned used_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace vgpu
