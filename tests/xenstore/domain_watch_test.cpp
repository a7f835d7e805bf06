// DomainWatch reports "gone" only for a release event *and* a missing domain.
#include "vgpu/xenstore/domain_watch.h"

#include <gtest/gtest.h>
#include <poll.h>

#include "vgpu/xenstore/fake_store.h"

namespace vgpu::xenstore {
namespace {

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

class DomainWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto w = DomainWatch::start(store, [this] {
      ++checks;
      return exists;
    });
    ASSERT_TRUE(w.ok());
    watch = std::move(w.value());
  }
  FakeStore store;
  bool exists = true;
  int checks = 0;
  std::unique_ptr<DomainWatch> watch;
};

TEST_F(DomainWatchTest, RegistrationEventIsHarmless) {
  EXPECT_TRUE(readable(watch->fd()));  // xenstored fires new watches once
  EXPECT_FALSE(watch->domain_gone().value());
  EXPECT_FALSE(readable(watch->fd()));
}

TEST_F(DomainWatchTest, OtherDomainsGoingAwayIsNotOurs) {
  ASSERT_FALSE(watch->domain_gone().value());
  store.fire_special("@releaseDomain");
  EXPECT_TRUE(readable(watch->fd()));
  EXPECT_FALSE(watch->domain_gone().value());
  EXPECT_EQ(checks, 2);
}

TEST_F(DomainWatchTest, ReportsGoneWhenReleasedAndMissing) {
  ASSERT_FALSE(watch->domain_gone().value());
  exists = false;
  EXPECT_FALSE(watch->domain_gone().value()) << "no release event yet: don't even ask";
  store.fire_special("@releaseDomain");
  EXPECT_TRUE(watch->domain_gone().value());
  EXPECT_TRUE(watch->domain_gone().value());  // sticky
}

TEST_F(DomainWatchTest, ManyReleasesInOneWakeUpCheckOnce) {
  ASSERT_FALSE(watch->domain_gone().value());
  checks = 0;
  for (int i = 0; i < 5; ++i) store.fire_special("@releaseDomain");
  EXPECT_FALSE(watch->domain_gone().value());
  EXPECT_EQ(checks, 1);
}

TEST_F(DomainWatchTest, UnrelatedWatchEventsDoNotTriggerACheck) {
  ASSERT_FALSE(watch->domain_gone().value());
  checks = 0;
  ASSERT_TRUE(store.watch("/x", "other"));
  ASSERT_TRUE(store.write("/x", "1"));
  EXPECT_FALSE(watch->domain_gone().value());
  EXPECT_EQ(checks, 0);
}

TEST_F(DomainWatchTest, DestructorUnwatches) {
  watch.reset();
  EXPECT_EQ(store.unwatch("@releaseDomain", DomainWatch::kToken).error().code, ENOENT);
}

}  // namespace
}  // namespace vgpu::xenstore
