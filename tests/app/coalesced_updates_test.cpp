#include "vgpu/app/coalesced_updates.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/timerfd.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace vgpu::app {
namespace {

using namespace std::chrono_literals;
using Clock = CoalescedUpdates::Clock;
constexpr auto kInterval = 100ms;

class CoalescedUpdatesTest : public ::testing::Test {
 protected:
  CoalescedUpdatesTest()
      : updates(
            CoalescedUpdates::create(kInterval, [this](const std::string& k, const std::string& v) {
              written.emplace_back(k, v);
            }).value()) {}
  bool timer_armed() const {
    itimerspec spec{};
    ::timerfd_gettime(updates.fd(), &spec);
    return spec.it_value.tv_sec != 0 || spec.it_value.tv_nsec != 0;
  }

  std::vector<std::pair<std::string, std::string>> written;
  CoalescedUpdates updates;
  const Clock::time_point t0 = Clock::now();
};

TEST_F(CoalescedUpdatesTest, FirstChangeIsWrittenAtOnce) {
  updates.set("bar0", "0xf0000000", t0);
  ASSERT_EQ(written.size(), 1u);
  EXPECT_EQ(written[0], (std::pair<std::string, std::string>{"bar0", "0xf0000000"}));
  EXPECT_FALSE(timer_armed());
}

TEST_F(CoalescedUpdatesTest, ChangesInsideTheIntervalAreHeldAndOnlyTheNewestWritten) {
  updates.set("bar0", "a", t0);
  for (int i = 0; i < 1000; ++i) updates.set("bar0", "x" + std::to_string(i), t0 + 1ms);
  EXPECT_EQ(written.size(), 1u);
  EXPECT_TRUE(timer_armed());
  ASSERT_TRUE(updates.on_timer(t0 + 50ms));  // not yet due
  EXPECT_EQ(written.size(), 1u);
  ASSERT_TRUE(updates.on_timer(t0 + kInterval));
  ASSERT_EQ(written.size(), 2u);
  EXPECT_EQ(written[1].second, "x999");
  EXPECT_FALSE(timer_armed());
}

TEST_F(CoalescedUpdatesTest, KeysAreIndependent) {
  updates.set("bar0", "a", t0);
  updates.set("bar2", "b", t0 + 1ms);
  EXPECT_EQ(written.size(), 2u) << "bar2's first change is not held back by bar0's";
}

TEST_F(CoalescedUpdatesTest, FlushWritesWhatIsHeld) {
  updates.set("bar0", "a", t0);
  updates.set("bar0", "b", Clock::now());
  updates.flush();
  ASSERT_EQ(written.size(), 2u);
  EXPECT_EQ(written[1].second, "b");
  updates.flush();
  EXPECT_EQ(written.size(), 2u) << "nothing held, nothing written";
}

TEST_F(CoalescedUpdatesTest, TheTimerFdFiresWhenHeldValuesAreDue) {
  updates.set("bar0", "a");
  updates.set("bar0", "b");
  pollfd p{updates.fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 2000), 1) << "timer never fired";
  ASSERT_TRUE(updates.on_timer());
  ASSERT_EQ(written.size(), 2u);
  EXPECT_EQ(written[1].second, "b");
}

}  // namespace
}  // namespace vgpu::app
