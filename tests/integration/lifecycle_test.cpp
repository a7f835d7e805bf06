// The daemon's life as an administrator sees it (docs/spec.md §4–§6): serve()
// with the simulated hypervisor and an in-memory XenStore, from bring-up to
// exit code, and what is left behind.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <thread>

#include "../support/log_capture.h"
#include "vgpu/app/runner.h"
#include "vgpu/pci/regs.h"
#include "vgpu/sim/sim_guest.h"
#include "vgpu/sim/sim_hypervisor.h"
#include "vgpu/xenstore/domain_watch.h"
#include "vgpu/xenstore/fake_store.h"

namespace vgpu {
namespace {

using namespace std::chrono_literals;

const pci::Sbdf kSbdf{0, 0, 5, 0};

class Lifecycle : public ::testing::Test {
 protected:
  void SetUp() override {
    run_dir_ = std::filesystem::temp_directory_path() /
               ("vgpu-lifecycle-" + std::to_string(getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
    options_.domid = 7;
    options_.sbdf = kSbdf;
    options_.run_dir = run_dir_.string();
  }
  void TearDown() override { std::filesystem::remove_all(run_dir_); }

  // Runs serve() on its own thread; returns its exit code through a future.
  // The test learns of Connected from the store's change observer, at the
  // moment the daemon writes it.
  std::future<int> serve_async(sim::SimHypervisor& hv, xenstore::FakeStore& store) {
    const std::string state = "/local/domain/0/backend/vgpu/7/0/state";
    store.set_change_observer([&store, state, this](const std::string& path) {
      if (path != state) return;
      auto v = store.read(state);
      if (v && *v == "4") connected_ = true;
    });
    return std::async(std::launch::async,
                      [&] { return app::serve(hv, store, options_, app::stub_device(options_)); });
  }

  // Waits (bounded) until the backend says Connected.
  bool wait_connected(xenstore::FakeStore&) {
    for (auto until = std::chrono::steady_clock::now() + 5s;
         std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(1ms))
      if (connected_) return true;
    return false;
  }

  static bool nothing_left_in(xenstore::FakeStore& store) {
    for (const auto& p : store.paths())
      if (p.find("vgpu") != std::string::npos) return false;
    return true;
  }

  std::filesystem::path run_dir_;
  app::Options options_;
  std::atomic<bool> connected_{false};
};

sim::SimConfig config(unsigned vcpus, bool hvm = true) {
  sim::SimConfig c;
  c.domid = 7;
  c.vcpus = vcpus;
  c.hvm = hvm;
  c.response_timeout = 2000ms;
  return c;
}

TEST_F(Lifecycle, GuestDestroyedMeansExitZeroWithinASecondAndNothingLeft) {
  sim::SimHypervisor hv(config(2));
  xenstore::FakeStore store;
  auto rc = serve_async(hv, store);
  ASSERT_TRUE(wait_connected(store));
  sim::SimGuest(hv, 0).hvmloader_scan();

  const auto t0 = std::chrono::steady_clock::now();
  hv.destroy_domain();  // xl destroy: Xen tears down the ioreq server itself
  hv.clear_calls();
  store.fire_special("@releaseDomain");
  ASSERT_EQ(rc.wait_for(1s), std::future_status::ready) << "daemon did not notice the guest going";
  EXPECT_EQ(rc.get(), app::kExitOk);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_TRUE(nothing_left_in(store));
  EXPECT_TRUE(hv.servers().empty());
  EXPECT_EQ(hv.mapped_pages(), 0u);
  EXPECT_EQ(hv.bound_ports(), 0u);
  std::string calls;
  for (const auto& c : hv.calls()) calls += c.to_string() + "\n";
  EXPECT_TRUE(calls.empty()) << "no release calls Xen can only refuse:\n" << calls;
  EXPECT_TRUE(std::filesystem::is_empty(run_dir_)) << "instance lock file removed";
}

TEST_F(Lifecycle, ReleaseOfAnotherDomainDoesNotStopUs) {
  sim::SimHypervisor hv(config(1));
  xenstore::FakeStore store;
  auto rc = serve_async(hv, store);
  ASSERT_TRUE(wait_connected(store));
  store.fire_special("@releaseDomain");  // some other guest went away
  EXPECT_EQ(rc.wait_for(200ms), std::future_status::timeout);
  EXPECT_EQ(sim::SimGuest(hv, 0).config_read(kSbdf, pci::kVendorId, 2), 0x1af4u);
  hv.destroy_domain();
  store.fire_special("@releaseDomain");
  EXPECT_EQ(rc.get(), app::kExitOk);
}

TEST_F(Lifecycle, AnAbnormalShutdownLogsTheRequestTraceThenExitsZero) {
  vgpu::testing::LogCapture log;
  sim::SimHypervisor hv(config(2));
  xenstore::FakeStore store;
  auto rc = serve_async(hv, store);
  ASSERT_TRUE(wait_connected(store));
  EXPECT_EQ(sim::SimGuest(hv, 1).config_read(kSbdf, pci::kVendorId, 2), 0x1af4u);
  hv.shut_down(/*abnormal=*/true);  // e.g. a triple fault, with on_reboot="preserve"
  store.fire_special("@releaseDomain");
  ASSERT_EQ(rc.wait_for(2s), std::future_status::ready);
  EXPECT_EQ(rc.get(), app::kExitOk);
  const std::string text = log.text();
  EXPECT_NE(text.find("request trace (the guest shut down abnormally"), std::string::npos) << text;
  EXPECT_NE(text.find("v1 "), std::string::npos) << text;
  EXPECT_NE(text.find("PCI_CONFIG read sbdf=0x28 reg=0x0 size=2"), std::string::npos) << text;
  EXPECT_NE(text.find("out=0x1af4"), std::string::npos) << text;
}

TEST_F(Lifecycle, ASuspendIsAPauseAndTheGuestUsesTheDeviceAfterResuming) {
  vgpu::testing::LogCapture log;
  sim::SimHypervisor hv(config(1));
  xenstore::FakeStore store;
  auto rc = serve_async(hv, store);
  ASSERT_TRUE(wait_connected(store));
  sim::SimGuest guest(hv, 0);
  guest.hvmloader_scan();
  guest.bar0_write(kSbdf, 0x10, 4, 41);  // REQUEST_ID
  guest.bar0_write(kSbdf, 0x00, 4, 1);   // COMMAND = PING
  EXPECT_EQ(guest.bar0_read(kSbdf, 0x24, 4), 41u);
  const auto servers = hv.servers();

  hv.suspend();  // xl save -c: shutdown with reason suspend, then a checkpoint
  store.fire_special("@releaseDomain");  // xenstored reports the shutdown
  EXPECT_EQ(rc.wait_for(300ms), std::future_status::timeout)
      << "the daemon took a suspend for death";
  EXPECT_EQ(*store.read("/local/domain/0/backend/vgpu/7/0/state"), "4");
  hv.resume();  // the checkpoint is written; the same domain runs on
  store.fire_special("@releaseDomain");
  EXPECT_EQ(rc.wait_for(50ms), std::future_status::timeout);

  EXPECT_EQ(hv.servers(), servers) << "the same ioreq server serves on";
  guest.bar0_write(kSbdf, 0x10, 4, 42);
  guest.bar0_write(kSbdf, 0x00, 4, 1);
  EXPECT_EQ(guest.bar0_read(kSbdf, 0x24, 4), 42u) << "PING after the resume";
  EXPECT_EQ(guest.bar0_read(kSbdf, 0x20, 4), 0x55504756u);
  hv.destroy_domain();
  store.fire_special("@releaseDomain");
  ASSERT_EQ(rc.wait_for(2s), std::future_status::ready);
  EXPECT_EQ(rc.get(), app::kExitOk);
  EXPECT_TRUE(hv.violations().empty()) << hv.violations().front();
  const std::string text = log.text();
  EXPECT_NE(text.find("domain 7 suspended (save or checkpoint); the device stays"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("domain 7 resumed"), std::string::npos) << text;
}

TEST_F(Lifecycle, APoweroffLogsNoRequestTrace) {
  vgpu::testing::LogCapture log;
  sim::SimHypervisor hv(config(1));
  xenstore::FakeStore store;
  auto rc = serve_async(hv, store);
  ASSERT_TRUE(wait_connected(store));
  sim::SimGuest(hv, 0).hvmloader_scan();
  hv.shut_down(/*abnormal=*/false);
  store.fire_special("@releaseDomain");
  ASSERT_EQ(rc.wait_for(2s), std::future_status::ready);
  EXPECT_EQ(rc.get(), app::kExitOk);
  EXPECT_EQ(log.text().find("request trace"), std::string::npos);
}

TEST_F(Lifecycle, SigusrOneLogsTheRequestTraceAndServingGoesOn) {
  sigset_t usr1, old;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &usr1, &old), 0);
  vgpu::testing::LogCapture log;
  sim::SimHypervisor hv(config(1));
  xenstore::FakeStore store;
  auto rc = serve_async(hv, store);
  ASSERT_TRUE(wait_connected(store));
  EXPECT_EQ(sim::SimGuest(hv, 0).config_read(kSbdf, pci::kVendorId, 2), 0x1af4u);
  ASSERT_EQ(kill(getpid(), SIGUSR1), 0);
  bool dumped = false;
  for (auto until = std::chrono::steady_clock::now() + 2s;
       !dumped && std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(1ms))
    dumped = log.text().find("request trace (SIGUSR1)") != std::string::npos;
  EXPECT_TRUE(dumped) << log.text();
  EXPECT_EQ(rc.wait_for(100ms), std::future_status::timeout) << "SIGUSR1 must not stop us";
  EXPECT_EQ(sim::SimGuest(hv, 0).config_read(kSbdf, pci::kVendorId, 2), 0x1af4u);
  hv.destroy_domain();
  store.fire_special("@releaseDomain");
  EXPECT_EQ(rc.get(), app::kExitOk);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

TEST_F(Lifecycle, SigtermDuringFourVcpuStormTearsDownInOrder) {
  // signalfd needs SIGTERM blocked in every thread: block it here, before any
  // thread of this test exists, and restore it at the end.
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &term, &old), 0);

  sim::SimHypervisor hv(config(4));
  xenstore::FakeStore store;
  auto rc = serve_async(hv, store);
  ASSERT_TRUE(wait_connected(store));
  sim::SimGuest(hv, 0).hvmloader_scan();
  const uint64_t base =
      sim::SimGuest(hv, 0).config_read(kSbdf, pci::kBar0, 4) & ~pci::kBarMemFlagsMask;

  std::atomic<bool> go{true};
  std::atomic<uint64_t> answered{0};
  std::vector<std::thread> vcpus;
  for (unsigned v = 0; v < 4; ++v)
    vcpus.emplace_back([&, v] {
      while (go) {
        hv.mmio_read(v, base + 4, 4);
        ++answered;
      }
    });
  while (answered < 1000) std::this_thread::yield();
  hv.clear_calls();
  ASSERT_EQ(kill(getpid(), SIGTERM), 0);
  ASSERT_EQ(rc.wait_for(2s), std::future_status::ready);
  go = false;
  for (auto& t : vcpus) t.join();
  pthread_sigmask(SIG_SETMASK, &old, nullptr);

  EXPECT_EQ(rc.get(), app::kExitOk);
  EXPECT_TRUE(hv.violations().empty()) << hv.violations().front();
  std::vector<sim::SimCallKind> kinds;
  for (const auto& c : hv.calls()) kinds.push_back(c.kind);
  using K = sim::SimCallKind;
  EXPECT_EQ(kinds,
            (std::vector<K>{K::kUnmapMmio, K::kUnmapPcidev, K::kDisableServer, K::kDestroyServer}));
  EXPECT_TRUE(hv.servers().empty());
  EXPECT_EQ(hv.bound_ports(), 0u);
  EXPECT_TRUE(nothing_left_in(store));
}

TEST_F(Lifecycle, SecondDaemonForSameDomainAndSbdfRefusesWithExitTwo) {
  sim::SimHypervisor hv(config(1));
  xenstore::FakeStore store;
  auto first = serve_async(hv, store);
  ASSERT_TRUE(wait_connected(store));

  sim::SimHypervisor hv2(config(1));
  ::testing::internal::CaptureStderr();
  const int rc = app::serve(hv2, store, options_, app::stub_device(options_));
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(rc, app::kExitUsage);
  EXPECT_NE(err.find("already claimed by another vgpu-ioreqd"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << "one line: " << err;
  EXPECT_TRUE(hv2.servers().empty()) << "the refused daemon created no ioreq server";

  hv.destroy_domain();
  store.fire_special("@releaseDomain");
  EXPECT_EQ(first.get(), app::kExitOk);
}

// A run directory others may write to, or a pid file name that is a
// symlink, is bad input: exit 2, one line, and nothing created in Xen.
TEST_F(Lifecycle, UntrustedRunDirOrPidFileIsBadInputWithNothingLeftBehind) {
  // serve() on its own thread: a daemon that wrongly accepts starts serving,
  // and is then stopped (as the guest going away) so that the test fails
  // rather than hangs.
  auto refused = [this](std::string* err) {
    sim::SimHypervisor hv(config(1));
    xenstore::FakeStore store;
    ::testing::internal::CaptureStderr();
    auto rc = std::async(std::launch::async, [&] {
      return app::serve(hv, store, options_, app::stub_device(options_));
    });
    if (rc.wait_for(2s) != std::future_status::ready) {
      hv.destroy_domain();
      store.fire_special("@releaseDomain");
    }
    const int code = rc.get();
    *err = ::testing::internal::GetCapturedStderr();
    EXPECT_TRUE(hv.calls().empty()) << "no ioreq server was created";
    EXPECT_TRUE(nothing_left_in(store));
    return code;
  };
  std::filesystem::create_directories(run_dir_);
  std::filesystem::permissions(run_dir_, std::filesystem::perms(0777));
  std::string err;
  EXPECT_EQ(refused(&err), app::kExitUsage);
  EXPECT_EQ(err.rfind("vgpu-ioreqd: run directory " + run_dir_.string() +
                          " is writable by others (mode 0777)",
                      0),
            0u)
      << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << "one line: " << err;
  EXPECT_TRUE(std::filesystem::is_empty(run_dir_));

  std::filesystem::permissions(run_dir_, std::filesystem::perms(0755));
  options_.pid_file = (run_dir_ / "7.pid").string();
  std::filesystem::create_symlink("/nonexistent-target", options_.pid_file);
  EXPECT_EQ(refused(&err), app::kExitUsage);
  EXPECT_NE(err.find("pid file " + options_.pid_file + " is a symbolic link; refusing"),
            std::string::npos)
      << err;
  EXPECT_TRUE(std::filesystem::is_symlink(options_.pid_file));
}

struct BadDomainCase {
  const char* name;
  bool exists;
  bool hvm;
  const char* message;
};

class BadDomain : public Lifecycle, public ::testing::WithParamInterface<BadDomainCase> {};

TEST_P(BadDomain, IsBadInputWithOneLineAndNothingLeftBehind) {
  const BadDomainCase& c = GetParam();
  sim::SimHypervisor hv(config(1, c.hvm));
  if (!c.exists) hv.destroy_domain();
  xenstore::FakeStore store;
  ::testing::internal::CaptureStderr();
  const int rc = app::serve(hv, store, options_, app::stub_device(options_));
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(rc, app::kExitUsage);
  EXPECT_EQ(err, std::string("vgpu-ioreqd: ") + c.message + "\n");
  EXPECT_TRUE(store.paths().empty() || nothing_left_in(store));
  EXPECT_TRUE(hv.calls().empty()) << "no ioreq server was created";
  EXPECT_FALSE(std::filesystem::exists(run_dir_) && !std::filesystem::is_empty(run_dir_));
}

INSTANTIATE_TEST_SUITE_P(
    Lifecycle, BadDomain,
    ::testing::Values(BadDomainCase{"absent", false, true, "domain 7 does not exist"},
                      BadDomainCase{"pv", true, false, "domain 7 is not an HVM guest"}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

}  // namespace
}  // namespace vgpu
