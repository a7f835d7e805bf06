// serve_split(): the daemon as two processes, with the simulated hypervisor
// built inside the worker (a fork) and the in-memory XenStore in the
// supervisor (this test process). The guest runs as a thread of the worker,
// after the sandbox is in place, so it proves that serving works under it.
#include "vgpu/app/split.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <thread>

#include "../support/log_capture.h"
#include "../support/proc_status.h"
#include "vgpu/app/state_file.h"
#include "vgpu/device/registers.h"
#include "vgpu/sim/sim_guest.h"
#include "vgpu/sim/sim_hypervisor.h"
#include "vgpu/xenstore/fake_store.h"

namespace vgpu {
namespace {

using namespace std::chrono_literals;
namespace regs = device::regs;

const pci::Sbdf kSbdf{0, 0, 5, 0};
const std::string kBackend = "/local/domain/0/backend/vgpu/7/0/";

// The worker's hypervisor; set in the worker process only.
sim::SimHypervisor* g_worker_hv = nullptr;

// The children of this process (the worker), from /proc.
std::vector<pid_t> children() {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    std::ifstream stat("/proc/" + std::string(e->d_name) + "/stat");
    std::string line;
    std::getline(stat, line);
    const size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    char state = 0;
    int ppid = 0;
    if (std::sscanf(line.c_str() + close + 1, " %c %d", &state, &ppid) == 2 && ppid == ::getpid())
      out.push_back(pid);
  }
  ::closedir(d);
  return out;
}

using testing::proc_status;

class Split : public ::testing::Test {
 protected:
  void SetUp() override {
    run_dir_ = std::filesystem::temp_directory_path() /
               ("vgpu-split-" + std::to_string(getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
    options_.domid = 7;
    options_.sbdf = kSbdf;
    options_.run_dir = run_dir_.string();
    store_.set_change_observer([this](const std::string& path) {
      if (path != kBackend + "state") return;
      auto v = store_.read(path);
      if (v && *v == "4") connected_ = true;
    });
    setup_.user = {65534, 65534, "65534"};
    setup_.open_supervisor = [this]() -> Result<app::SupervisorHandles> {
      return app::SupervisorHandles{
          &store_,
          [this]() -> Result<hv::DomainInfo> {
            return hv::DomainInfo{exists_.load(), true, false, false, suspended_.load()};
          },
          nullptr};
    };
    setup_.open_hypervisor = []() -> Result<std::unique_ptr<hv::Hypervisor>> {
      sim::SimConfig c;
      c.domid = 7;
      c.response_timeout = 2000ms;
      auto hv = std::make_unique<sim::SimHypervisor>(c);
      g_worker_hv = hv.get();
      return std::unique_ptr<hv::Hypervisor>(std::move(hv));
    };
    setup_.restrict = [](hv::Hypervisor&) { return Status{}; };
  }
  void TearDown() override {
    store_.set_change_observer({});
    std::filesystem::remove_all(run_dir_);
  }

  std::future<int> serve_async() {
    return std::async(std::launch::async, [this] {
      return app::serve_split(options_, app::stub_device(options_), setup_);
    });
  }
  bool wait_connected() {
    for (auto until = std::chrono::steady_clock::now() + 5s;
         std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(1ms))
      if (connected_) return true;
    return false;
  }
  // xl destroy, as the supervisor sees it.
  void destroy() {
    exists_ = false;
    store_.fire_special("@releaseDomain");
  }
  bool nothing_left() {
    for (const auto& p : store_.paths())
      if (p.find("vgpu") != std::string::npos) return false;
    return true;
  }

  std::filesystem::path run_dir_;
  app::Options options_;
  app::SplitSetup setup_;
  xenstore::FakeStore store_;
  std::atomic<bool> connected_{false};
  std::atomic<bool> exists_{true};
  std::atomic<bool> suspended_{false};
};

// The guest, in the worker: enumerates, pings, and stops the daemon itself
// when every answer was right; a wrong answer aborts the worker.
void guest_pings(app::Daemon& d) {
  sim::SimHypervisor& hv = *g_worker_hv;
  std::thread([&hv, &d] {
    sim::SimGuest guest(hv, 0);
    guest.hvmloader_scan();
    guest.bar0_write(kSbdf, regs::kRequestId, 4, 77);
    guest.bar0_write(kSbdf, regs::kCommand, 4, 1);
    if (guest.bar0_read(kSbdf, regs::kPingMagicOffset, 4) != regs::kPingMagic ||
        guest.bar0_read(kSbdf, regs::kPingRequestIdOffset, 4) != 77u)
      std::abort();
    d.request_stop();
  }).detach();
}

TEST_F(Split, TheWorkerServesSandboxedAndTheSupervisorPublishesAndCleansUp) {
  auto rc = serve_async();
  ASSERT_TRUE(wait_connected());
  const auto kids = children();
  ASSERT_EQ(kids.size(), 1u);
  auto status = proc_status(kids[0]);
  for (const char* field : {"Uid", "CapEff", "NoNewPrivs", "Seccomp"})
    std::printf("worker /proc/%d/status %s:\t%s\n", kids[0], field, status[field].c_str());
  if (::geteuid() == 0) {
    EXPECT_EQ(status["Uid"].substr(0, 5), "65534");
  }
  EXPECT_NE(status["Uid"].substr(0, 2), "0\t");
  EXPECT_EQ(status["CapEff"], "0000000000000000");
  EXPECT_EQ(status["NoNewPrivs"], "1");
  EXPECT_EQ(status["Seccomp"], "2");
  EXPECT_EQ(*store_.read(kBackend + "ioreq-server"), "0");
  EXPECT_EQ(*store_.read(kBackend + "pid"), std::to_string(::getpid()))
      << "the backend names the supervisor, which outlives the worker";
  destroy();
  ASSERT_EQ(rc.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(rc.get(), app::kExitOk);
  EXPECT_TRUE(nothing_left());
  EXPECT_TRUE(children().empty()) << "the worker was reaped";
}

TEST_F(Split, BarPlacementReachesXenStoreThroughTheChannel) {
  std::vector<std::string> bar0_values;
  std::mutex m;
  store_.set_change_observer([&](const std::string& path) {
    if (path == kBackend + "state") {
      auto v = store_.read(path);
      if (v && *v == "4") connected_ = true;
    }
    if (path != kBackend + "bar0") return;
    std::lock_guard lock(m);
    auto v = store_.read(path);
    bar0_values.push_back(v ? *v : "<absent>");
  });
  setup_.on_ready = guest_pings;
  auto rc = serve_async();
  ASSERT_EQ(rc.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(rc.get(), app::kExitOk);
  std::lock_guard lock(m);
  bool placed = false;
  for (const auto& v : bar0_values) placed |= v.rfind("0xf", 0) == 0;
  EXPECT_TRUE(placed) << "bar0 never got the address hvmloader gave it";
}

TEST_F(Split, AnUnlistedSystemCallKillsTheWorkerAndTheDaemonSaysSoAndExitsOne) {
  setup_.after_sandbox = [] { ::syscall(SYS_socket, AF_INET, SOCK_STREAM, 0); };
  ::testing::internal::CaptureStderr();
  const int rc = app::serve_split(options_, app::stub_device(options_), setup_);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(rc, app::kExitRuntime);
  EXPECT_NE(err.find("was killed by SIGSYS"), std::string::npos) << err;
  EXPECT_NE(err.find("seccomp"), std::string::npos) << err;
  EXPECT_TRUE(nothing_left()) << "XenStore cleaned after the worker died";
  EXPECT_TRUE(children().empty());
}

// Restart (docs/spec.md §12): a worker killed by a signal leaves the state
// file and device memory's file naming its server for the next daemon; a
// daemon that finds them but cannot take the server over (here: the
// simulated Xen died with the worker, so server 0 is not there) says so
// and starts afresh; a worker that exits removes them.
TEST_F(Split, AKilledWorkerLeavesItsServerToTheNextDaemonAndAnExitedOneCleansUp) {
  const std::filesystem::path state = run_dir_ / "dom7-0000-00-05.0.state";
  const std::filesystem::path memory = run_dir_ / "dom7-0000-00-05.0.mem";
  auto rc = serve_async();
  ASSERT_TRUE(wait_connected());
  const auto kids = children();
  ASSERT_EQ(kids.size(), 1u);
  ::kill(kids[0], SIGKILL);
  ASSERT_EQ(rc.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(rc.get(), app::kExitRuntime);
  EXPECT_TRUE(nothing_left()) << "XenStore is cleaned; the next daemon publishes again";
  ASSERT_TRUE(std::filesystem::exists(state));
  ASSERT_TRUE(std::filesystem::exists(memory));
  {
    const int dir = ::open(run_dir_.c_str(), O_DIRECTORY | O_CLOEXEC);
    auto file = app::StateFile::open(dir, state.filename().string());
    ::close(dir);
    ASSERT_TRUE(file);
    EXPECT_EQ((*file)->server_for({7, kSbdf, {}}), hv::ServerId{0})
        << "the state names the dead worker's server";
  }

  connected_ = false;
  ::testing::internal::CaptureStdout();  // both processes log there (spdlog's default)
  rc = serve_async();
  const bool served = wait_connected();
  destroy();
  const bool ended = rc.wait_for(5s) == std::future_status::ready;
  const std::string text = ::testing::internal::GetCapturedStdout();
  ASSERT_TRUE(served) << "the fallback to a fresh start serves";
  ASSERT_TRUE(ended);
  EXPECT_EQ(rc.get(), app::kExitOk);
  EXPECT_NE(text.find("taking over ioreq server 0"), std::string::npos) << text;
  EXPECT_NE(text.find("starting afresh"), std::string::npos) << text;
  EXPECT_FALSE(std::filesystem::exists(state)) << "removed once the worker exited";
  EXPECT_FALSE(std::filesystem::exists(memory));
}

TEST_F(Split, DomainDestroyedMeansExitZero) {
  auto rc = serve_async();
  ASSERT_TRUE(wait_connected());
  destroy();
  ASSERT_EQ(rc.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(rc.get(), app::kExitOk);
  EXPECT_TRUE(nothing_left());
}

TEST_F(Split, ASuspendIsNotTheEnd) {
  auto rc = serve_async();
  ASSERT_TRUE(wait_connected());
  suspended_ = true;
  store_.fire_special("@releaseDomain");  // xenstored fires it for a suspend
  EXPECT_EQ(rc.wait_for(300ms), std::future_status::timeout) << "stopped on a suspend";
  EXPECT_EQ(*store_.read(kBackend + "state"), "4");
  suspended_ = false;
  store_.fire_special("@releaseDomain");
  EXPECT_EQ(rc.wait_for(100ms), std::future_status::timeout);
  destroy();
  ASSERT_EQ(rc.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(rc.get(), app::kExitOk);
}

TEST_F(Split, AnAbsentDomainIsBadInputAndTheWorkerNeverStarts) {
  exists_ = false;
  ::testing::internal::CaptureStderr();
  const int rc = app::serve_split(options_, app::stub_device(options_), setup_);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(rc, app::kExitUsage);
  EXPECT_EQ(err, "vgpu-ioreqd: domain 7 does not exist\n");
  EXPECT_TRUE(children().empty());
}

}  // namespace
}  // namespace vgpu
