// The fake must behave like xenstored wherever the daemon could notice.
#include "vgpu/xenstore/fake_store.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <thread>

#include "vgpu/xenstore/transaction_retry.h"

namespace vgpu::xenstore {
namespace {

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

std::vector<WatchEvent> drain(Store& s) {
  std::vector<WatchEvent> out;
  for (;;) {
    auto e = s.read_watch();
    EXPECT_TRUE(e.ok());
    if (!e.ok() || !e.value()) return out;
    out.push_back(*e.value());
  }
}

TEST(FakeStore, WriteCreatesAncestorsThatInheritPermissions) {
  FakeStore s;
  ASSERT_TRUE(s.mkdir("/a"));
  const Permissions p{7, Access::kNone, {{0, Access::kRead}}};
  ASSERT_TRUE(s.set_permissions("/a", p));
  ASSERT_TRUE(s.write("/a/b/c", "v"));
  EXPECT_EQ(s.read("/a/b/c").value(), "v");
  EXPECT_EQ(s.read("/a/b").value(), "");
  EXPECT_EQ(s.permissions("/a/b"), p);
  EXPECT_EQ(s.permissions("/a/b/c"), p);
}

TEST(FakeStore, MissingNodeIsEnoent) {
  FakeStore s;
  auto r = s.read("/nope");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ENOENT);
  EXPECT_EQ(s.set_permissions("/nope", {}).error().code, ENOENT);
}

TEST(FakeStore, RejectsMalformedPaths) {
  FakeStore s;
  EXPECT_EQ(s.write("relative", "x").error().code, EINVAL);
  EXPECT_EQ(s.write("/a//b", "x").error().code, EINVAL);
  EXPECT_EQ(s.write("/a/", "x").error().code, EINVAL);
}

TEST(FakeStore, RemoveIsRecursiveAndIdempotent) {
  FakeStore s;
  ASSERT_TRUE(s.write("/a/b/c", "1"));
  ASSERT_TRUE(s.write("/a/bc", "2"));
  ASSERT_TRUE(s.remove("/a/b"));
  EXPECT_EQ(s.paths(), (std::vector<std::string>{"/a", "/a/bc"}));
  EXPECT_TRUE(s.remove("/a/b"));
}

TEST(FakeStore, ListsDirectChildrenOnly) {
  FakeStore s;
  ASSERT_TRUE(s.write("/a/x/deep", "1"));
  ASSERT_TRUE(s.write("/a/y", "2"));
  ASSERT_TRUE(s.write("/ab", "3"));
  EXPECT_EQ(s.list("/a").value(), (std::vector<std::string>{"x", "y"}));
}

TEST(FakeStore, WatchFiresOnRegistrationAndOnChangesBelow) {
  FakeStore s;
  EXPECT_FALSE(readable(s.watch_fd()));
  ASSERT_TRUE(s.watch("/a", "tok"));
  EXPECT_TRUE(readable(s.watch_fd()));
  EXPECT_EQ(drain(s), (std::vector<WatchEvent>{{"/a", "tok"}}));
  EXPECT_FALSE(readable(s.watch_fd()));

  ASSERT_TRUE(s.write("/a/b", "1"));
  ASSERT_TRUE(s.write("/other", "1"));
  EXPECT_EQ(drain(s), (std::vector<WatchEvent>{{"/a/b", "tok"}}));
}

TEST(FakeStore, RemovingAnAncestorFiresWatchesBelowIt) {
  FakeStore s;
  ASSERT_TRUE(s.write("/a/b/c", "1"));
  ASSERT_TRUE(s.watch("/a/b/c", "tok"));
  drain(s);
  ASSERT_TRUE(s.remove("/a"));
  EXPECT_EQ(drain(s), (std::vector<WatchEvent>{{"/a/b/c", "tok"}}));
}

TEST(FakeStore, SpecialWatchFiresOnlyWhenFired) {
  FakeStore s;
  ASSERT_TRUE(s.watch("@releaseDomain", "rel"));
  drain(s);
  ASSERT_TRUE(s.write("/x", "1"));
  EXPECT_TRUE(drain(s).empty());
  s.fire_special("@releaseDomain");
  EXPECT_EQ(drain(s), (std::vector<WatchEvent>{{"@releaseDomain", "rel"}}));
}

TEST(FakeStore, UnwatchStopsEventsAndUnknownWatchIsAnError) {
  FakeStore s;
  ASSERT_TRUE(s.watch("/a", "tok"));
  ASSERT_TRUE(s.unwatch("/a", "tok"));
  EXPECT_FALSE(readable(s.watch_fd()));  // the registration event went too
  ASSERT_TRUE(s.write("/a", "1"));
  EXPECT_TRUE(drain(s).empty());
  EXPECT_EQ(s.unwatch("/a", "tok").error().code, ENOENT);
}

TEST(FakeStore, TransactionIsInvisibleUntilCommit) {
  FakeStore s;
  ASSERT_TRUE(s.transact([&](StoreOps& ops) -> Status {
    EXPECT_TRUE(ops.write("/t/a", "1"));
    EXPECT_FALSE(s.read("/t/a").ok());  // other connections see nothing yet
    return ops.write("/t/b", "2");
  }));
  EXPECT_EQ(s.read("/t/b").value(), "2");
  EXPECT_EQ(s.commits(), 1);
}

TEST(FakeStore, FailedBodyAbandonsTheTransaction) {
  FakeStore s;
  Status st = s.transact([](StoreOps& ops) -> Status {
    EXPECT_TRUE(ops.write("/t/a", "1"));
    return Error{EIO, "boom"};
  });
  EXPECT_EQ(st.error().code, EIO);
  EXPECT_TRUE(s.paths().empty());
}

TEST(FakeStore, ConflictingCommitRetriesTheBody) {
  FakeStore s;
  s.fail_next_commits(2);
  int runs = 0;
  ASSERT_TRUE(s.transact([&](StoreOps& ops) {
    ++runs;
    return ops.write("/t", "x");
  }));
  EXPECT_EQ(runs, 3);
  EXPECT_EQ(s.read("/t").value(), "x");
}

TEST(FakeStore, ConcurrentWriteDuringTransactionCausesRetry) {
  FakeStore s;
  int runs = 0;
  ASSERT_TRUE(s.transact([&](StoreOps& ops) {
    if (++runs == 1) {
      EXPECT_TRUE(s.write("/racer", "1"));  // another writer
    }
    return ops.write("/t", "x");
  }));
  EXPECT_EQ(runs, 2);
  EXPECT_TRUE(s.read("/racer").ok());
}

TEST(FakeStore, GivesUpAfterBoundedConflicts) {
  FakeStore s;
  s.fail_next_commits(kMaxTransactionAttempts);
  const auto t0 = std::chrono::steady_clock::now();
  Status st = s.transact([](StoreOps& ops) { return ops.write("/t", "x"); });
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(st.error().code, EAGAIN);
  // The pauses are bounded too: the daemon's thread waits well under 0.3 s.
  EXPECT_LT(took, std::chrono::milliseconds(300));
}

// A retry right after a conflict meets the same writer again: each retry
// pauses, at least half of 250 us doubled per retry (docs/hardening.md).
TEST(FakeStore, ConflictsBackOffExponentiallyBeforeRetrying) {
  FakeStore s;
  s.fail_next_commits(6);
  int runs = 0;
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(s.transact([&](StoreOps& ops) {
    ++runs;
    return ops.write("/t", "x");
  }));
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(runs, 7);
  // (125 + 250 + 500 + 1000 + 2000 + 4000) us at the least.
  EXPECT_GE(took, std::chrono::microseconds(7875));
  EXPECT_LT(took, std::chrono::seconds(1));
}

TEST(TransactionRetry, DelayDoublesWithJitterUpToTheCap) {
  using std::chrono::microseconds;
  for (int retry = 1; retry <= 40; ++retry) {
    const int64_t full = std::min<int64_t>(int64_t{250} << std::min(retry - 1, 20), 20000);
    for (uint32_t random : {0u, 1u, 77u, 123456789u, 0xffffffffu}) {
      const microseconds d = backoff_delay(retry, random);
      EXPECT_GE(d.count(), full / 2) << "retry " << retry << " random " << random;
      EXPECT_LE(d.count(), full) << "retry " << retry << " random " << random;
    }
  }
  EXPECT_NE(backoff_delay(5, 1), backoff_delay(5, 2)) << "jitter: two daemons do not pause in step";
  EXPECT_EQ(backoff_delay(1, 0), microseconds(125));
  EXPECT_EQ(backoff_delay(30, 0), microseconds(10000));
}

// The fake plays xenstored, another process: a test thread fires watches
// while the daemon's thread drains them. Every event arrives exactly once,
// and the fd settles unreadable (TSan flags this test without the lock).
TEST(FakeStore, FireSpecialAndReadWatchFromTwoThreads) {
  FakeStore s;
  ASSERT_TRUE(s.watch("@releaseDomain", "rel"));
  ASSERT_EQ(drain(s).size(), 1U);
  constexpr int kFires = 20000;
  std::thread firer([&] {
    for (int i = 0; i < kFires; ++i) s.fire_special("@releaseDomain");
  });
  int seen = 0;
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
       seen < kFires && std::chrono::steady_clock::now() < until;) {
    pollfd p{s.watch_fd(), POLLIN, 0};
    if (::poll(&p, 1, 100) != 1) continue;
    seen += static_cast<int>(drain(s).size());
  }
  firer.join();
  EXPECT_EQ(seen, kFires);
  EXPECT_FALSE(readable(s.watch_fd()));
}

// Writers on two threads, one inside transactions, with an observer that
// reads the store: no deadlock, no lost write, every commit retried until
// it wins.
TEST(FakeStore, ConcurrentWritersAndAReadingObserver) {
  FakeStore s;
  std::atomic<int> observed{0};
  s.set_change_observer([&](const std::string& path) {
    if (s.read(path).ok()) ++observed;
  });
  constexpr int kEach = 500;
  std::thread direct([&] {
    for (int i = 0; i < kEach; ++i) EXPECT_TRUE(s.write("/d/" + std::to_string(i), "x"));
  });
  for (int i = 0; i < kEach; ++i) {
    EXPECT_TRUE(
        s.transact([&](StoreOps& ops) { return ops.write("/t/" + std::to_string(i), "y"); }));
  }
  direct.join();
  EXPECT_EQ(s.list("/d").value().size(), static_cast<size_t>(kEach));
  EXPECT_EQ(s.list("/t").value().size(), static_cast<size_t>(kEach));
  EXPECT_EQ(s.commits(), kEach);
  EXPECT_EQ(observed.load(), 2 * kEach);
}

}  // namespace
}  // namespace vgpu::xenstore
