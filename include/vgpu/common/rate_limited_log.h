// A log line a guest can trigger at will, rate-limited so that a misbehaving
// guest cannot flood Dom0's log: at most `burst` lines per `period`; the
// next line that gets through says how many were dropped before it, and so
// does a summary when the limiter is flushed or destroyed.
//
// Thread-compatible: one instance per kind of event, used from one thread.
#pragma once

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <string>
#include <utility>

#include "vgpu/common/rate_limiter.h"

namespace vgpu {

class RateLimitedLog {
 public:
  // `what` names the kind of line in the summary ("stray MMIO accesses").
  explicit RateLimitedLog(std::string what, spdlog::level::level_enum level = spdlog::level::warn,
                          unsigned burst = 10,
                          RateLimiter::Clock::duration period = std::chrono::seconds(1))
      : what_(std::move(what)), level_(level), limiter_(burst, period) {}
  ~RateLimitedLog() { flush(); }
  RateLimitedLog(const RateLimitedLog&) = delete;
  RateLimitedLog& operator=(const RateLimitedLog&) = delete;

  template <typename... Args>
  void operator()(fmt::format_string<Args...> format, Args&&... args) {
    uint64_t dropped = 0;
    if (!limiter_.allow(&dropped)) return;
    const std::string line = fmt::format(format, std::forward<Args>(args)...);
    if (dropped == 0) {
      spdlog::log(level_, "{}", line);
    } else {
      spdlog::log(level_, "{} ({} similar lines suppressed)", line, dropped);
    }
  }

  // Reports lines dropped since the last one that got through, if any.
  void flush() {
    if (const uint64_t dropped = limiter_.take_dropped())
      spdlog::log(level_, "{}: {} more similar lines suppressed", what_, dropped);
  }

 private:
  std::string what_;
  spdlog::level::level_enum level_;
  RateLimiter limiter_;
};

}  // namespace vgpu
