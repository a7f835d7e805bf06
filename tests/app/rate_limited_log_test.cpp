#include "vgpu/common/rate_limited_log.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "../support/log_capture.h"

namespace vgpu {
namespace {

TEST(RateLimitedLog, ABurstGetsThroughThenTheRestIsCountedAndSummarised) {
  testing::LogCapture log;
  {
    RateLimitedLog limited("stray accesses", spdlog::level::warn, 3, std::chrono::hours(1));
    for (int i = 0; i < 100; ++i) limited("stray access {}", i);
    EXPECT_EQ(log.count("stray access "), 3u);
    EXPECT_EQ(log.count("suppressed"), 0u);
  }  // destroyed: the summary says how many were dropped
  EXPECT_EQ(log.count("stray accesses: 97 more similar lines suppressed"), 1u);
}

TEST(RateLimitedLog, TheNextAllowedLineSaysHowManyWereDropped) {
  testing::LogCapture log;
  RateLimitedLog limited("events", spdlog::level::warn, 1, std::chrono::milliseconds(1));
  limited("event");
  limited("event");
  limited("event");
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  limited("event");
  EXPECT_EQ(log.count("event (2 similar lines suppressed)"), 1u);
  limited.flush();
  EXPECT_EQ(log.count("more similar lines suppressed"), 0u) << "nothing dropped since";
}

}  // namespace
}  // namespace vgpu
