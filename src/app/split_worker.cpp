#include "split_worker.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

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

  explicit ChannelObserver(const Channel& channel) : channel_(channel) {}
  Status init() {
    auto updates = CoalescedUpdates::create(
        kInterval, [this](const std::string& key, const std::string& value) {
          send({MessageType::kSetKey, 0, key, value});
        });
    if (!updates) return updates.error();
    updates_.emplace(std::move(*updates));
    return {};
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

// The same wording as the single-process daemon (runner.cpp).
int bring_up_failure(const Channel& channel, const Options& o, const Error& e) {
  if (e.code == EEXIST || e.code == EBUSY)
    return failed(channel, kExitUsage,
                  "SBDF " + o.sbdf.to_string() + " is already claimed in domain " +
                      std::to_string(o.domid) + ": " + e.describe());
  return failed(channel, kExitRuntime, "cannot start the ioreq server: " + e.describe());
}

Status on_message(const Channel& channel, Daemon& d) {
  auto m = channel.receive();
  if (!m) return m.error();
  if (!*m) {
    spdlog::error("the supervisor is gone; stopping");
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

}  // namespace

int run_worker(const Options& o, const DeviceSpec& device, const SplitSetup& setup,
               const Channel& channel, SignalFd& signals) {
  // Nothing to do until the supervisor has checked the domain and
  // published the backend; if it gives up, it has said why.
  auto go = channel.receive();
  if (!go || !*go || (*go)->type != MessageType::kGo) return kExitRuntime;

  auto hv = setup.open_hypervisor();
  if (!hv) return failed(channel, kExitUsage, hv.error().describe());
  ChannelObserver observer(channel);
  if (Status s = observer.init(); !s) return failed(channel, kExitRuntime, s.error().describe());
  auto daemon = Daemon::start(**hv, DaemonConfig{o.sbdf, device.make_device}, &observer);
  if (!daemon) return bring_up_failure(channel, o, daemon.error());
  Daemon& d = **daemon;

  // From here on this process reads guest-controlled data: shed everything
  // it does not need for that first (docs/hardening.md).
  if (Status s = setup.restrict(**hv); !s)
    return failed(channel, kExitRuntime, "cannot confine the Xen handles: " + s.error().describe());
  if (Status s = drop_privileges(setup.user); !s)
    return failed(channel, kExitRuntime, "cannot drop privileges: " + s.error().describe());
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
