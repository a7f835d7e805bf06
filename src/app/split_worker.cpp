#include "split_worker.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>

#include "vgpu/app/coalesced_updates.h"
#include "vgpu/app/daemon.h"
#include "vgpu/app/sandbox.h"
#include "vgpu/xenstore/paths.h"

namespace vgpu::app::detail {

namespace {

// The daemon's XenStore updates, as messages to the supervisor. BAR and
// status updates are coalesced here, before the channel, so that a guest
// moving a BAR in a loop costs the supervisor at most one message per key
// per interval (the same bound BackendState keeps in one process).
class ChannelObserver final : public DaemonObserver {
 public:
  static constexpr auto kInterval = std::chrono::milliseconds(100);

  ChannelObserver(const Channel& channel, StateFile* state) : channel_(channel), state_(state) {}
  Status init() {
    auto updates = CoalescedUpdates::create(
        kInterval, [this](const std::string& key, const std::string& value) {
          send({MessageType::kSetKey, 0, key, value});
        });
    if (!updates) return updates.error();
    updates_.emplace(std::move(*updates));
    return {};
  }

  void server_created(hv::ServerId id) override {
    // First of all, before Xen routes anything to it: a daemon restarted
    // from here on finds this server (and takes it over, or destroys it
    // when nothing was saved yet).
    if (state_) state_->set_server(id);
  }
  void server_enabled(hv::ServerId id) override {
    send({MessageType::kServerEnabled, 0, {}, std::to_string(id)});
  }
  void bar_changed(unsigned index, std::optional<pci::BarMapping> now) override {
    updates_->set(xenstore::keys::bar(index), now ? fmt::format("{:#x}", now->base) : "");
  }
  void device_status(std::string_view key, std::string_view value) override {
    updates_->set(std::string(key), std::string(value));
  }

  int timer_fd() const { return updates_->fd(); }
  Status on_timer() { return updates_->on_timer(); }
  void flush() { updates_->flush(); }

  void send(const Message& m) {
    // XenStore shows state to administrators; serving goes on without it.
    if (Status s = channel_.send(m); !s)
      spdlog::warn("to the supervisor: {}", s.error().describe());
  }

 private:
  const Channel& channel_;
  StateFile* state_;
  std::optional<CoalescedUpdates> updates_;
};

// The reason as one bounded, printable line.
std::string one_line(std::string text) {
  if (text.size() > Message::kMaxValue) text.resize(Message::kMaxValue);
  for (char& c : text)
    if (c < 0x20 || c > 0x7e) c = ' ';
  return text;
}

int failed(const Channel& channel, int code, const std::string& reason) {
  [[maybe_unused]] Status s =
      channel.send({MessageType::kFailed, static_cast<uint8_t>(code), {}, one_line(reason)});
  return code;
}

Status on_message(const Channel& channel, Daemon& d) {
  auto m = channel.receive();
  if (!m) return m.error();
  if (!*m) {
    // Killed, most likely: the server stays for the daemon that restarts.
    spdlog::error("the supervisor is gone; leaving the ioreq server to a restarted daemon");
    d.abandon();
    d.request_stop();
    return {};
  }
  switch ((*m)->type) {
    case MessageType::kStop:
      d.request_stop();
      break;
    case MessageType::kDumpTrace:
      d.dump_trace("SIGUSR1");
      break;
    case MessageType::kDomainGone:
      if ((*m)->code != 0)
        d.dump_trace("the guest shut down abnormally: a crash, or a reboot such as a triple fault");
      d.domain_gone();
      break;
    default:
      spdlog::warn("unexpected message type {} from the supervisor",
                   static_cast<unsigned>((*m)->type));
  }
  return {};
}

// Starts the daemon: takes over the server a dead daemon left when the
// supervisor says so, and starts afresh when that fails (the guest then
// sees a device reset under it; said once, loudly).
Result<std::unique_ptr<Daemon>> start_daemon(hv::Hypervisor& hv, const Options& o,
                                             const DeviceSpec& device, const Persistence& keep,
                                             const Message& go, DaemonObserver& observer) {
  DaemonConfig config{o.sbdf, device.make_device, std::nullopt, keep.state};
  if (device.factory_with_memory_file && keep.memory_fd >= 0)
    config.make_device = device.factory_with_memory_file(keep.memory_fd);
  if (go.code != kGoTakeOver || keep.state == nullptr) return Daemon::start(hv, config, &observer);

  const auto id = static_cast<hv::ServerId>(std::stoul(go.value));
  StateFile& state = *keep.state;
  config.resume = Resume{id, [&state] { return state.load(); }};
  spdlog::info("a previous daemon died serving this guest; taking over ioreq server {}", id);
  auto daemon = Daemon::start(hv, config, &observer);
  if (daemon) return daemon;
  spdlog::error(
      "cannot take over ioreq server {} ({}); starting afresh: the guest sees its device reset", id,
      daemon.error().describe());
  state.forget_server();
  if (::ftruncate(keep.memory_fd, 0) != 0)
    spdlog::warn("cannot empty device memory's file: {}", errno_error("ftruncate").describe());
  config.resume.reset();
  return Daemon::start(hv, config, &observer);
}

// The worker dies with the supervisor, whatever kills it: a worker serving
// on would keep the server from the daemon that restarts. Set after the
// change of user, which clears it.
Status die_with_supervisor(pid_t supervisor) {
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return errno_error("prctl(PR_SET_PDEATHSIG)");
  if (::getppid() != supervisor) return Error{ESRCH, "the supervisor is already gone"};
  return {};
}

}  // namespace

int run_worker(const Options& o, const DeviceSpec& device, const SplitSetup& setup,
               const Persistence& keep, const Channel& channel, SignalFd& signals) {
  const pid_t supervisor = ::getppid();
  // Nothing to do until the supervisor has checked the domain and
  // published the backend; if it gives up, it has said why.
  auto go = channel.receive();
  if (!go || !*go || (*go)->type != MessageType::kGo) return kExitRuntime;

  auto hv = setup.open_hypervisor();
  if (!hv) return failed(channel, kExitUsage, hv.error().describe());
  ChannelObserver observer(channel, keep.state);
  if (Status s = observer.init(); !s) return failed(channel, kExitRuntime, s.error().describe());
  auto daemon = start_daemon(**hv, o, device, keep, **go, observer);
  if (!daemon) {
    const Failure f = bring_up_failure(o, daemon.error());
    return failed(channel, f.code, f.message);
  }
  Daemon& d = **daemon;

  // From here on this process reads guest-controlled data: shed everything
  // it does not need for that first (docs/hardening.md).
  if (Status s = setup.restrict(**hv); !s)
    return failed(channel, kExitRuntime, "cannot confine the Xen handles: " + s.error().describe());
  if (Status s = drop_privileges(setup.user); !s)
    return failed(channel, kExitRuntime, "cannot drop privileges: " + s.error().describe());
  if (Status s = die_with_supervisor(supervisor); !s)
    return failed(channel, kExitRuntime, s.error().describe());
  if (Status s = install_worker_seccomp(); !s)
    return failed(channel, kExitRuntime,
                  "cannot install the seccomp filter: " + s.error().describe());
  spdlog::info("worker {} serving as {} (uid {}), no capabilities, seccomp on", ::getpid(),
               setup.user.name, ::getuid());
  if (setup.after_sandbox) setup.after_sandbox();

  d.loop().add(channel.fd(), [&] { return on_message(channel, d); });
  // systemd signals the whole unit; the supervisor forwards what it gets too.
  d.loop().add(signals.fd(), [&] {
    if (int sig = signals.take(); sig == SIGUSR1)
      d.dump_trace("SIGUSR1");
    else if (sig != 0)
      d.request_stop();
    return Status{};
  });
  d.loop().add(observer.timer_fd(), [&] { return observer.on_timer(); });
  observer.send({MessageType::kReady, 0, {}, {}});
  if (setup.on_ready) setup.on_ready(d);

  const Status result = d.run();
  if (!result) spdlog::error("stopping: {}", result.error().describe());
  observer.flush();
  observer.send({MessageType::kClosing, 0, {}, {}});
  daemon->reset();  // orderly teardown of the ioreq server
  return result ? kExitOk : kExitRuntime;
}

}  // namespace vgpu::app::detail
