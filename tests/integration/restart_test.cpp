// Restart under a running guest (docs/spec.md §12), through the whole daemon
// against the simulator: a daemon serves a guest that has probed the device,
// enabled MSI and the command queue and put data in device memory; it then
// dies as kill -9 leaves things (no teardown: the server, its claims, the
// state file and device memory's file stay; its event channel ends close)
// while a vCPU waits on a request. A second daemon takes the server over.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <string>
#include <thread>

#include "../support/daemon_thread.h"
#include "../support/sim_process.h"
#include "vgpu/app/state_file.h"
#include "vgpu/compute/crc32c.h"
#include "vgpu/device/registers.h"
#include "vgpu/device/vgpu_stub.h"
#include "vgpu/pci/regs.h"
#include "vgpu/sim/sim_guest.h"
#include "vgpu/sim/sim_queue_driver.h"

namespace vgpu {
namespace {

using queue::Opcode;
using sim::SimQueueDriver;
using testing::DaemonThread;
using testing::kSbdf0005;
using testing::SimProcess;
namespace regs = device::regs;
using namespace std::chrono_literals;

constexpr uint64_t kMemLimit = 16ull << 20;

sim::SimConfig sim_config() {
  sim::SimConfig c;
  c.ram_bytes = 64ull << 20;
  c.response_timeout = 10s;
  return c;
}

// A run directory for one test: the state file and device memory's file.
class RunDir {
 public:
  RunDir() {
    char tmpl[] = "/tmp/vgpu-restart-XXXXXX";
    path_ = ::mkdtemp(tmpl);
    fd_ = ::open(path_.c_str(), O_DIRECTORY | O_CLOEXEC);
    memory_fd_ = ::openat(fd_, "dev.mem", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  }
  ~RunDir() {
    ::close(memory_fd_);
    ::unlinkat(fd_, "dev.mem", 0);
    ::unlinkat(fd_, "dev.state", 0);
    ::close(fd_);
    ::rmdir(path_.c_str());
  }
  int fd() const { return fd_; }
  int memory_fd() const { return memory_fd_; }

 private:
  std::string path_;
  int fd_ = -1;
  int memory_fd_ = -1;
};

// Records the server in the state file the moment Xen created it, as the
// worker's observer does, and notes whether it was enabled by then.
class StateFileObserver final : public app::DaemonObserver {
 public:
  StateFileObserver(const sim::SimHypervisor& hv, app::StateFile& state) : hv_(hv), state_(state) {}
  void server_created(hv::ServerId id) override {
    enabled_when_created = hv_.server_enabled(id);
    state_.set_server(id);
  }
  void server_enabled(hv::ServerId) override {}
  void bar_changed(unsigned, std::optional<pci::BarMapping>) override {}
  void device_status(std::string_view, std::string_view) override {}

  std::optional<bool> enabled_when_created;

 private:
  const sim::SimHypervisor& hv_;
  app::StateFile& state_;
};

class Restart : public ::testing::Test {
 protected:
  Restart() { state->reset(owner()); }

  static std::unique_ptr<app::StateFile> open_state(const RunDir& dir) {
    auto s = app::StateFile::open(dir.fd(), "dev.state");
    if (!s) throw std::runtime_error(s.error().describe());
    return std::move(*s);
  }

  app::StateOwner owner() {
    return app::StateOwner{hv.domid(), kSbdf0005, hv.domain_info()->handle};
  }
  app::DaemonConfig config(std::optional<hv::ServerId> take_over = std::nullopt) {
    app::DaemonConfig c{
        kSbdf0005, device::stub_factory({.mem_limit = kMemLimit, .memory_fd = dir.memory_fd()}),
        std::nullopt, state.get()};
    if (take_over) {
      c.resume = app::Resume{*take_over, [this] { return state->load(); }};
    }
    return c;
  }
  // The guest's PING, with its known answer checked by the caller.
  uint32_t ping(sim::SimGuest& g, uint32_t id) {
    g.bar0_write(kSbdf0005, regs::kRequestId, 4, id);
    g.bar0_write(kSbdf0005, regs::kCommand, 4, static_cast<uint32_t>(device::Command::kPing));
    return static_cast<uint32_t>(g.bar0_read(kSbdf0005, regs::kPingRequestIdOffset, 4));
  }
  size_t msis() const {
    size_t n = 0;
    for (const auto& c : hv.calls()) n += c.kind == sim::SimCallKind::kInjectMsi ? 1 : 0;
    return n;
  }

  // The first daemon, in a process of its own, serving; the state file
  // names its server from the moment Xen created it.
  hv::ServerId start_first() {
    first_process = std::make_unique<SimProcess>(hv);
    first = std::make_unique<DaemonThread>(*first_process, config(), &first_observer);
    return first->daemon().server_id();
  }
  // It dies as kill -9 leaves things: no teardown, its event channel ends
  // closed with the process.
  void kill_first() {
    first->abandon();
    first.reset();
    first_process.reset();
  }
  // The guest boots: hvmloader, then Linux's probe with MSI and bus
  // mastering.
  sim::ProbedDevice boot_guest() {
    guest.hvmloader_scan();
    return guest.linux_probe(kSbdf0005);
  }

  sim::SimHypervisor hv{sim_config()};
  RunDir dir;
  std::unique_ptr<app::StateFile> state = open_state(dir);
  StateFileObserver first_observer{hv, *state};
  std::unique_ptr<SimProcess> first_process;
  std::unique_ptr<DaemonThread> first;
  sim::SimGuest guest{hv, 0};
  sim::GuestBar0Port port{guest, kSbdf0005};
  SimQueueDriver driver{hv.memory(), port};
};

TEST_F(Restart, SecondDaemonTakesOverServerAnswersPendingRequestAndKeepsEverything) {
  const hv::ServerId id = start_first();
  const sim::ProbedDevice probed = boot_guest();
  ASSERT_TRUE(probed.msi_enabled);
  ASSERT_EQ(driver.enable(), queue::kStatusReady);
  const uint32_t bar0 = guest.config_read(kSbdf0005, pci::kBar0, 4);

  // Device memory with known contents, and a handle the guest keeps.
  std::vector<uint8_t> pattern(64 * 1024);
  for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<uint8_t>(i * 7 + 3);
  ASSERT_TRUE(hv.memory().guest_write(0x300000, std::as_bytes(std::span(pattern))));
  const auto alloc = driver.run(SimQueueDriver::entry(Opcode::kAlloc, 1, {pattern.size()}));
  const uint64_t handle = alloc.result;
  const uint64_t list = driver.write_list_for(0x300000, pattern.size());
  driver.run(SimQueueDriver::entry(Opcode::kWrite, 2, {handle, 0, pattern.size(), list, 16}));
  ASSERT_EQ(ping(guest, 41), 41u);
  const uint64_t mem_free = driver.reg64(queue::qregs::kMemFree);

  // The daemon stops answering; the guest's next access waits in its slot;
  // then the process dies.
  first->pause();
  std::promise<uint32_t> pending_answer;
  std::thread vcpu([&] {
    sim::SimGuest g(hv, 0);
    g.bar0_write(kSbdf0005, regs::kRequestId, 4, 4242);  // waits for the next daemon
    g.bar0_write(kSbdf0005, regs::kCommand, 4, static_cast<uint32_t>(device::Command::kPing));
    pending_answer.set_value(
        static_cast<uint32_t>(g.bar0_read(kSbdf0005, regs::kPingRequestIdOffset, 4)));
  });
  std::this_thread::sleep_for(50ms);  // the request is in its slot
  kill_first();
  EXPECT_EQ(hv.servers().size(), 1u) << "the dead daemon's server stays";
  EXPECT_EQ(hv.bound_ports(), 0u) << "its event channel ends closed with it";

  const size_t msis_at_kill = msis();
  const auto started = std::chrono::steady_clock::now();
  SimProcess second_process(hv);
  DaemonThread second(second_process, config(id));
  ASSERT_TRUE(second.daemon().resumed());
  EXPECT_EQ(second.daemon().server_id(), id) << "the same server, not a new one";
  EXPECT_EQ(second.daemon().answered_on_resume(), 1u);
  auto answered = pending_answer.get_future();
  ASSERT_EQ(answered.wait_for(5s), std::future_status::ready) << "the pending request was answered";
  EXPECT_EQ(answered.get(), 4242u) << "and the PING after it, with the right answer";
  vcpu.join();
  // Counted once the vCPU is done: its PING completes with an MSI of its own
  // whenever the new daemon gets to it.
  EXPECT_EQ(msis(), msis_at_kill + 2)
      << "one MSI at the take-over, for completions the dead daemon may not have signalled, "
         "and one for the PING";
  const double pause_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  std::printf("restart to the pending PING answered: %.2f ms\n", pause_ms);

  // Guest-visible state: config space and BAR placement, MSI, registers,
  // the queue and device memory.
  EXPECT_EQ(guest.config_read(kSbdf0005, pci::kBar0, 4), bar0);
  EXPECT_EQ(guest.config_read(kSbdf0005, pci::kCommand, 2), probed.command);
  EXPECT_EQ(hv.servers().size(), 1u);
  EXPECT_EQ(ping(guest, 43), 43u);
  EXPECT_EQ(driver.reg(queue::qregs::kStatus), queue::kStatusReady);
  EXPECT_EQ(driver.reg64(queue::qregs::kMemFree), mem_free);
  const size_t msis_before = msis();
  std::vector<uint8_t> back(pattern.size());
  const uint64_t out = driver.write_list_for(0x400000, back.size());
  const auto read =
      driver.run(SimQueueDriver::entry(Opcode::kRead, 3, {handle, 0, back.size(), out, 16}));
  EXPECT_EQ(read.command_id, 3u);
  EXPECT_EQ(read.status_phase >> 1, 0u) << "READ after the restart succeeds";
  ASSERT_TRUE(hv.memory().guest_read(0x400000, std::as_writable_bytes(std::span(back))));
  EXPECT_EQ(back, pattern) << "device memory outlived the process";
  EXPECT_GT(msis(), msis_before) << "MSI still reaches the guest at the same address";

  second.stop();  // an orderly teardown now: nothing is left
  EXPECT_TRUE(hv.servers().empty());
  EXPECT_TRUE(hv.violations().empty()) << hv.violations().front();
}

TEST_F(Restart, ADoorbellPendingAtTheKillIsAnsweredAndItsCommandCompletesOnce) {
  const hv::ServerId id = start_first();
  boot_guest();
  ASSERT_EQ(driver.enable(), queue::kStatusReady);
  const uint64_t handle = driver.run(SimQueueDriver::entry(Opcode::kAlloc, 1, {4u << 20})).result;

  // The doorbell of a long FILL waits in its slot when the process dies;
  // the next daemon answers it and runs the FILL (on its queue worker).
  first->pause();
  std::thread vcpu([&] {
    driver.put(SimQueueDriver::entry(Opcode::kFill, 2, {handle, 0, 4u << 20, 0xA5A5A5A5}));
    driver.ring();  // waits for the next daemon
  });
  std::this_thread::sleep_for(50ms);
  kill_first();

  SimProcess second_process(hv);
  DaemonThread second(second_process, config(id));
  vcpu.join();
  const auto c = driver.poll(5s);
  ASSERT_TRUE(c) << "the FILL completed after the restart";
  EXPECT_EQ(c->command_id, 2u);
  EXPECT_EQ(c->status_phase >> 1, 0u);
  driver.release();
  EXPECT_FALSE(driver.poll(200ms)) << "exactly one completion for it";
  const auto crc = driver.run(SimQueueDriver::entry(Opcode::kCrc32c, 3, {handle, 0, 4u << 20}));
  std::vector<std::byte> filled(4u << 20, std::byte{0xA5});
  EXPECT_EQ(crc.result, compute::crc32c_extend(0, filled));
  second.stop();
  EXPECT_TRUE(hv.violations().empty()) << hv.violations().front();
}

TEST_F(Restart, TakingOverAServerThatIsGoneFailsAndLeavesNothing) {
  SimProcess process(hv);
  auto d = app::Daemon::start(process, config(hv::ServerId{5}));
  EXPECT_FALSE(d);
  EXPECT_TRUE(hv.servers().empty());
  EXPECT_EQ(hv.bound_ports(), 0u);
}

TEST_F(Restart, TheStateFileNamesTheServerBeforeXenEnablesIt) {
  const hv::ServerId id = start_first();
  EXPECT_EQ(first_observer.enabled_when_created, std::optional<bool>(false))
      << "recorded before enabling: no kill leaves an enabled server nobody knows of";
  EXPECT_EQ(state->server_for(owner()), id);
}

// Killed after Xen created (and enabled) its server but before its first
// save: the server is recorded, not saved. The next daemon cannot take it
// over without a save, so it destroys it (Xen would otherwise route the
// guest's INVALIDATE broadcasts to a server nobody answers) and the
// worker's fallback starts afresh.
TEST_F(Restart, AServerLeftBeforeTheFirstSaveIsDestroyedAndTheNextDaemonStartsAfresh) {
  {
    SimProcess dead(hv);
    auto id = dead.create_ioreq_server();
    ASSERT_TRUE(id);
    first_observer.server_created(*id);
    ASSERT_TRUE(dead.set_ioreq_server_enabled(*id, true));
  }
  const auto left = state->server_for(owner());
  ASSERT_TRUE(left);
  ASSERT_EQ(hv.servers().size(), 1u);

  SimProcess process(hv);
  auto d = app::Daemon::start(process, config(left));
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message.find("no valid save"), std::string::npos) << d.error().describe();
  EXPECT_TRUE(hv.servers().empty()) << "the left server was destroyed, not left enabled";

  state->forget_server();
  DaemonThread fresh(process, config());
  EXPECT_FALSE(fresh.daemon().resumed());
  const sim::ProbedDevice probed = boot_guest();
  EXPECT_TRUE(probed.msi_enabled);
  EXPECT_EQ(ping(guest, 77), 77u);
  EXPECT_EQ(hv.servers().size(), 1u);
  EXPECT_TRUE(hv.violations().empty()) << hv.violations().front();
}

TEST_F(Restart, ACorruptSavedStateIsRefusedAndTheServerTornDown) {
  const hv::ServerId id = start_first();
  kill_first();

  SimProcess process(hv);
  app::DaemonConfig c = config();
  c.resume = app::Resume{id, []() -> Result<std::vector<std::byte>> {
                           return std::vector<std::byte>(100, std::byte{0x5A});
                         }};
  auto d = app::Daemon::start(process, c);
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message.find("saved state"), std::string::npos) << d.error().describe();
  EXPECT_TRUE(hv.servers().empty()) << "the taken-over server was released, not left routing";
  EXPECT_TRUE(hv.violations().empty()) << hv.violations().front();
}

}  // namespace
}  // namespace vgpu
