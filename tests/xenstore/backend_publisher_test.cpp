// BackendPublisher against FakeStore: the exact layout of docs/spec.md §4.
#include "vgpu/xenstore/backend_publisher.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <string>
#include <vector>

#include "vgpu/xenstore/fake_store.h"

namespace vgpu::xenstore {
namespace {

constexpr uint16_t kDomid = 7;
constexpr char kBackend[] = "/local/domain/0/backend/vgpu/7/0";
constexpr char kFrontend[] = "/local/domain/7/device/vgpu/0";

// The vGPU stub's identity as docs/spec.md §2 states it.
pci::DeviceIdentity stub_like_identity() {
  pci::DeviceIdentity id;
  id.vendor_id = 0x1af4;
  id.device_id = 0x1111;
  id.class_code = 0x120000;
  id.bars[0].size = 4096;
  return id;
}

BackendInfo info() {
  BackendInfo i;
  i.domid = kDomid;
  i.sbdf = pci::Sbdf{0, 0, 5, 0};
  i.identity = stub_like_identity();
  i.device_keys = {{"queue", "disabled"}, {"mem-limit", "268435456"}};
  i.pid = 4242;
  return i;
}

// The parts of the tree a real system already has before the daemon starts.
void seed_toolstack_nodes(FakeStore& s) {
  ASSERT_TRUE(s.mkdir("/local/domain/0/backend"));
  ASSERT_TRUE(s.mkdir("/local/domain/7/device"));
  ASSERT_TRUE(s.set_permissions("/local/domain/7", {kDomid, Access::kNone, {{0, Access::kRead}}}));
}

// By value: a range-for over list(...).value() would dangle.
std::vector<std::string> children(FakeStore& s, const std::string& path) {
  auto r = s.list(path);
  return r ? r.value() : std::vector<std::string>{};
}

std::string get(FakeStore& s, const std::string& path) {
  auto r = s.read(path);
  return r ? r.value() : "<absent: " + r.error().describe() + ">";
}

class BackendPublisherTest : public ::testing::Test {
 protected:
  void SetUp() override { seed_toolstack_nodes(store); }
  FakeStore store;
};

TEST_F(BackendPublisherTest, PathsAreComputedInOnePlace) {
  const auto p = XenstorePaths::for_domain(kDomid);
  EXPECT_EQ(p.backend, kBackend);
  EXPECT_EQ(p.frontend, kFrontend);
  EXPECT_EQ(p.backend_domain_dir, "/local/domain/0/backend/vgpu/7");
  EXPECT_EQ(p.backend_key(keys::kState), std::string(kBackend) + "/state");
}

TEST_F(BackendPublisherTest, PublishWritesExactBackendKeysAndValues) {
  BackendPublisher pub(store, info());
  ASSERT_TRUE(pub.publish());
  const std::map<std::string, std::string> want = {
      {"frontend", kFrontend}, {"frontend-id", "7"},       {"online", "1"},
      {"state", "1"},          {"sbdf", "0000:00:05.0"},   {"vendor-id", "0x1af4"},
      {"device-id", "0x1111"}, {"class", "0x120000"},      {"bar0", ""},
      {"bar0-size", "4096"},   {"ioreq-server", ""},       {"pid", "4242"},
      {"queue", "disabled"},   {"mem-limit", "268435456"},
  };
  std::map<std::string, std::string> got;
  for (const auto& name : children(store, kBackend)) {
    got[name] = get(store, std::string(kBackend) + "/" + name);
  }
  EXPECT_EQ(got, want);
  EXPECT_FALSE(store.read(std::string(kBackend) + "/hotplug-status").ok());
}

TEST_F(BackendPublisherTest, PublishWritesExactFrontendKeysAndValues) {
  BackendPublisher pub(store, info());
  ASSERT_TRUE(pub.publish());
  EXPECT_EQ(store.list(kFrontend).value(),
            (std::vector<std::string>{"backend", "backend-id", "state"}));
  EXPECT_EQ(get(store, std::string(kFrontend) + "/backend"), kBackend);
  EXPECT_EQ(get(store, std::string(kFrontend) + "/backend-id"), "0");
  EXPECT_EQ(get(store, std::string(kFrontend) + "/state"), "1");
}

TEST_F(BackendPublisherTest, BackendIsDom0sReadableByGuestFrontendIsGuestsReadableByDom0) {
  BackendPublisher pub(store, info());
  ASSERT_TRUE(pub.publish());
  const Permissions be{0, Access::kNone, {{kDomid, Access::kRead}}};
  const Permissions fe{kDomid, Access::kNone, {{0, Access::kRead}}};
  EXPECT_EQ(store.permissions(kBackend), be);
  for (const auto& name : children(store, kBackend)) {
    EXPECT_EQ(store.permissions(std::string(kBackend) + "/" + name), be) << name;
  }
  EXPECT_EQ(store.permissions(kFrontend), fe);
  for (const auto& name : children(store, kFrontend)) {
    EXPECT_EQ(store.permissions(std::string(kFrontend) + "/" + name), fe) << name;
  }
}

TEST_F(BackendPublisherTest, CustomIdentityIsFormattedAsHex) {
  BackendInfo i = info();
  i.identity.class_code = 0x030000;
  i.identity.bars[0].size = 65536;
  i.sbdf = pci::Sbdf{1, 2, 3, 4};
  BackendPublisher pub(store, i);
  ASSERT_TRUE(pub.publish());
  EXPECT_EQ(get(store, std::string(kBackend) + "/class"), "0x030000");
  EXPECT_EQ(get(store, std::string(kBackend) + "/bar0-size"), "65536");
  EXPECT_EQ(get(store, std::string(kBackend) + "/sbdf"), "0001:02:03.4");
}

TEST_F(BackendPublisherTest, EveryImplementedBarGetsAnAddressAndASizeKey) {
  BackendInfo i = info();
  i.identity.bars[2] = pci::BarSpec{.size = 1 << 20, .is_64bit = true, .prefetchable = true};
  BackendPublisher pub(store, i);
  ASSERT_TRUE(pub.publish());
  EXPECT_EQ(get(store, std::string(kBackend) + "/bar0-size"), "4096");
  EXPECT_EQ(get(store, std::string(kBackend) + "/bar2"), "");
  EXPECT_EQ(get(store, std::string(kBackend) + "/bar2-size"), "1048576");
  for (const char* absent : {"bar1", "bar1-size", "bar3", "bar3-size", "bar5"})
    EXPECT_FALSE(store.read(std::string(kBackend) + "/" + absent).ok()) << absent;
}

TEST_F(BackendPublisherTest, PublishIsAtomicForAnyObserver) {
  // At every instant another connection could look, the backend is either
  // absent or complete: never half-written.
  int observations = 0;
  store.set_change_observer([&](const std::string&) {
    ++observations;
    auto keys_now = store.list(kBackend);
    if (keys_now) {
      EXPECT_EQ(keys_now->size(), 14U);
      EXPECT_TRUE(store.read(std::string(kFrontend) + "/state").ok());
    }
  });
  BackendPublisher pub(store, info());
  ASSERT_TRUE(pub.publish());
  EXPECT_GT(observations, 0);
  EXPECT_EQ(store.commits(), 1);
}

TEST_F(BackendPublisherTest, WatcherSeesAllKeysOnFirstEvent) {
  ASSERT_TRUE(store.watch(kBackend, "w"));
  ASSERT_TRUE(store.read_watch().value().has_value());  // registration event
  BackendPublisher pub(store, info());
  ASSERT_TRUE(pub.publish());
  auto event = store.read_watch();
  ASSERT_TRUE(event.ok() && event.value().has_value());
  EXPECT_EQ(store.list(kBackend).value().size(), 14U);
}

// The device's own status keys are published with the rest and updated
// through the same path as the daemon's.
TEST_F(BackendPublisherTest, DeviceStatusKeysArePublishedThenUpdatable) {
  BackendPublisher pub(store, info());
  ASSERT_TRUE(pub.publish());
  EXPECT_EQ(get(store, std::string(kBackend) + "/queue"), "disabled");
  ASSERT_TRUE(pub.set_key("queue", "ready"));
  EXPECT_EQ(get(store, std::string(kBackend) + "/queue"), "ready");
}

TEST_F(BackendPublisherTest, PublishRetriesOnConflict) {
  store.fail_next_commits(3);
  BackendPublisher pub(store, info());
  ASSERT_TRUE(pub.publish());
  EXPECT_EQ(get(store, std::string(kBackend) + "/state"), "1");
}

TEST_F(BackendPublisherTest, StatesMoveForwardOnly) {
  BackendPublisher pub(store, info());
  ASSERT_TRUE(pub.publish());
  ASSERT_TRUE(pub.set_state(XenbusState::kInitWait));
  EXPECT_EQ(get(store, std::string(kBackend) + "/state"), "2");
  ASSERT_TRUE(pub.set_state(XenbusState::kConnected));
  EXPECT_EQ(get(store, std::string(kBackend) + "/state"), "4");
  EXPECT_TRUE(pub.set_state(XenbusState::kConnected));  // same state: no-op

  Status back = pub.set_state(XenbusState::kInitWait);
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.error().code, EINVAL);
  EXPECT_NE(back.error().message.find("backwards"), std::string::npos);
  EXPECT_EQ(get(store, std::string(kBackend) + "/state"), "4");
  EXPECT_EQ(pub.state(), XenbusState::kConnected);
}

TEST_F(BackendPublisherTest, FailedSetupMaySkipToClosing) {
  BackendPublisher pub(store, info());
  ASSERT_TRUE(pub.publish());
  ASSERT_TRUE(pub.set_state(XenbusState::kInitWait));
  EXPECT_TRUE(pub.set_state(XenbusState::kClosing));
  EXPECT_EQ(get(store, std::string(kBackend) + "/state"), "5");
}

TEST_F(BackendPublisherTest, FrontendStateIsLeftToTheGuest) {
  BackendPublisher pub(store, info());
  ASSERT_TRUE(pub.publish());
  ASSERT_TRUE(pub.set_state(XenbusState::kConnected));
  EXPECT_EQ(get(store, std::string(kFrontend) + "/state"), "1");
}

TEST_F(BackendPublisherTest, KeysCanBeUpdatedAfterPublish) {
  BackendPublisher pub(store, info());
  ASSERT_TRUE(pub.publish());
  ASSERT_TRUE(pub.set_key(keys::bar(0), "0xf0000000"));
  EXPECT_EQ(get(store, std::string(kBackend) + "/bar0"), "0xf0000000");
  ASSERT_TRUE(pub.set_key(keys::bar(0), ""));
  EXPECT_EQ(get(store, std::string(kBackend) + "/bar0"), "");
}

TEST_F(BackendPublisherTest, IoreqServerIdIsDecimal) {
  BackendPublisher pub(store, info());
  ASSERT_TRUE(pub.publish());
  ASSERT_TRUE(pub.set_ioreq_server(1));
  EXPECT_EQ(get(store, std::string(kBackend) + "/ioreq-server"), "1");
}

TEST_F(BackendPublisherTest, UpdatesBeforePublishAreRefused) {
  BackendPublisher pub(store, info());
  EXPECT_FALSE(pub.set_key(keys::bar(0), "0xf0000000").ok());
  EXPECT_FALSE(pub.set_state(XenbusState::kConnected).ok());
  EXPECT_TRUE(store.list("/local/domain/0/backend").value().empty());
}

TEST_F(BackendPublisherTest, VanishedBackendIsNotRecreated) {
  BackendPublisher pub(store, info());
  ASSERT_TRUE(pub.publish());
  ASSERT_TRUE(store.remove(kBackend));  // e.g. an administrator's xenstore-rm
  Status st = pub.set_key(keys::bar(0), "0xf0000000");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ENOENT);
  EXPECT_FALSE(store.read(kBackend).ok());
}

TEST_F(BackendPublisherTest, TeardownClosesThenLeavesNothingBehind) {
  const auto before = store.paths();
  BackendPublisher pub(store, info());
  ASSERT_TRUE(pub.publish());
  ASSERT_TRUE(pub.set_state(XenbusState::kConnected));

  std::vector<std::string> states;
  store.set_change_observer([&](const std::string& path) {
    if (path == std::string(kBackend) + "/state") states.push_back(get(store, path));
  });
  ASSERT_TRUE(pub.teardown());
  EXPECT_EQ(states, (std::vector<std::string>{"5", "6"}));
  EXPECT_EQ(store.paths(), before);
  EXPECT_FALSE(pub.published());
  EXPECT_TRUE(pub.teardown());  // idempotent
  EXPECT_EQ(store.paths(), before);
}

TEST_F(BackendPublisherTest, TeardownKeepsSharedParentsOtherGuestsUse) {
  ASSERT_TRUE(store.write("/local/domain/0/backend/vgpu/9/0/state", "4"));
  BackendPublisher pub(store, info());
  ASSERT_TRUE(pub.publish());
  ASSERT_TRUE(pub.teardown());
  EXPECT_TRUE(store.read("/local/domain/0/backend/vgpu/9/0/state").ok());
  EXPECT_FALSE(store.read("/local/domain/0/backend/vgpu/7").ok());
}

TEST_F(BackendPublisherTest, TeardownAfterGuestDestroyedSucceeds) {
  BackendPublisher pub(store, info());
  ASSERT_TRUE(pub.publish());
  ASSERT_TRUE(store.remove("/local/domain/7"));  // the toolstack destroyed the guest
  EXPECT_TRUE(pub.teardown());
  EXPECT_FALSE(store.read("/local/domain/0/backend/vgpu").ok());
  EXPECT_FALSE(store.read("/local/domain/7").ok());  // not resurrected
}

// A guest rewriting its own frontend nodes can make every transaction
// conflict; teardown must still remove what it published, node by node.
TEST_F(BackendPublisherTest, TeardownLeavesNoGuestNodesWhenEveryTransactionConflicts) {
  const auto before = store.paths();
  BackendPublisher pub(store, info());
  ASSERT_TRUE(pub.publish());
  ASSERT_TRUE(pub.set_state(XenbusState::kConnected));
  store.fail_next_commits(1 << 20);
  EXPECT_TRUE(pub.teardown());
  EXPECT_FALSE(pub.published());
  std::vector<std::string> left;
  for (const auto& p : store.paths())
    if (std::find(before.begin(), before.end(), p) == before.end()) left.push_back(p);
  // Only the shared, now empty, type directory may stay: removing it
  // without a transaction could race with another guest's publish.
  EXPECT_TRUE(left.empty() || left == std::vector<std::string>{"/local/domain/0/backend/vgpu"})
      << left.front();
  EXPECT_TRUE(children(store, "/local/domain/0/backend/vgpu").empty());
  EXPECT_FALSE(store.read("/local/domain/7/device/vgpu").ok());
}

TEST_F(BackendPublisherTest, NodeByNodeTeardownKeepsOtherGuestsBackends) {
  ASSERT_TRUE(store.write("/local/domain/0/backend/vgpu/9/0/state", "4"));
  BackendPublisher pub(store, info());
  ASSERT_TRUE(pub.publish());
  store.fail_next_commits(1 << 20);
  EXPECT_TRUE(pub.teardown());
  EXPECT_EQ(get(store, "/local/domain/0/backend/vgpu/9/0/state"), "4");
  EXPECT_FALSE(store.read("/local/domain/0/backend/vgpu/7").ok());
}

TEST_F(BackendPublisherTest, DestructorTearsDown) {
  const auto before = store.paths();
  {
    BackendPublisher pub(store, info());
    ASSERT_TRUE(pub.publish());
  }
  EXPECT_EQ(store.paths(), before);
}

TEST_F(BackendPublisherTest, RefusesBackendOfAnotherLiveDaemon) {
  ASSERT_TRUE(store.write(std::string(kBackend) + "/pid", std::to_string(getppid())));
  BackendPublisher pub(store, info());
  Status st = pub.publish();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, EBUSY);
  EXPECT_EQ(get(store, std::string(kBackend) + "/pid"), std::to_string(getppid()));
}

TEST_F(BackendPublisherTest, OverwritesStaleBackendAndKeepsLauncherKeys) {
  // The hotplug flow: someone prepared the directory and the launcher owns
  // hotplug-status; a dead daemon's pid is just stale.
  ASSERT_TRUE(store.write(std::string(kBackend) + "/pid", "999999999"));
  ASSERT_TRUE(store.write(std::string(kBackend) + "/hotplug-status", "connected"));
  BackendPublisher pub(store, info());
  ASSERT_TRUE(pub.publish());
  EXPECT_EQ(get(store, std::string(kBackend) + "/pid"), "4242");
  EXPECT_EQ(get(store, std::string(kBackend) + "/hotplug-status"), "connected");
}

TEST_F(BackendPublisherTest, AfterADeadDaemonsNodesTeardownLeavesNoParentBehind) {
  // A restart after kill -9: the dead daemon created the parents and its
  // nodes are still there; the daemon that takes over must clean up as
  // completely as the dead one would have.
  ASSERT_TRUE(store.write(std::string(kBackend) + "/pid", "999999999"));
  ASSERT_TRUE(store.write(std::string(kBackend) + "/state", "4"));
  ASSERT_TRUE(store.write(std::string(kFrontend) + "/state", "1"));
  BackendPublisher pub(store, info());
  ASSERT_TRUE(pub.publish());
  ASSERT_TRUE(pub.teardown());
  EXPECT_FALSE(store.read("/local/domain/0/backend/vgpu/7").ok()) << "per-guest backend parent";
  EXPECT_FALSE(store.read("/local/domain/7/device/vgpu").ok()) << "per-guest frontend parent";
  EXPECT_FALSE(store.read("/local/domain/0/backend/vgpu").ok()) << "the type directory, empty";
}

}  // namespace
}  // namespace vgpu::xenstore
