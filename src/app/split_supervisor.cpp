// The supervisor half of serve_split() (split.h), and the fork.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <set>
#include <thread>

#include "split_worker.h"
#include "vgpu/app/instance_lock.h"
#include "vgpu/app/pid_file.h"
#include "vgpu/app/run_dir.h"
#include "vgpu/app/state_file.h"
#include "vgpu/ioreq/event_loop.h"
#include "vgpu/xenstore/backend_publisher.h"
#include "vgpu/xenstore/domain_watch.h"
#include "vgpu/xenstore/systemd_notify.h"

namespace vgpu::app {

namespace {

// How long a worker that closed its channel may take to exit before it is
// killed (it closes the channel only by exiting, unless it misbehaves).
constexpr auto kReapGrace = std::chrono::seconds(5);

std::set<std::string> status_key_names(const DeviceSpec& device) {
  std::set<std::string> names;
  for (const auto& [key, value] : device.status_keys) names.insert(key);
  return names;
}

std::string describe_signal(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return fmt::format("SIG{} ({})", abbrev ? abbrev : std::to_string(sig), strsignal(sig));
}

// The files that outlive the processes, by name in the run directory.
struct KeptFiles {
  int dir_fd = -1;
  std::string state;
  std::string memory;
};

class Supervisor {
 public:
  Supervisor(const Options& o, const DeviceSpec& device, const SplitSetup& setup,
             const detail::Persistence& keep, const KeptFiles& files, pid_t worker, Channel channel,
             SignalFd& signals)
      : o_(o),
        device_(device),
        setup_(setup),
        keep_(keep),
        files_(files),
        worker_(worker),
        channel_(std::move(channel)),
        signals_(signals),
        policy_(status_key_names(device)) {}

  int run();

 private:
  int setup_failure(int code, const std::string& message);
  Status check_domain();
  Message go_message();
  Status on_message();
  Status on_signal();
  Status on_watch();
  void reject(const std::string& why);
  int reap();
  int finish(int worker_status);

  const Options& o_;
  const DeviceSpec& device_;
  const SplitSetup& setup_;
  const detail::Persistence& keep_;
  const KeptFiles& files_;
  pid_t worker_;
  Channel channel_;
  SignalFd& signals_;
  KeyPolicy policy_;

  SupervisorHandles handles_;
  std::optional<xenstore::BackendPublisher> publisher_;
  std::unique_ptr<xenstore::DomainWatch> watch_;
  std::optional<PidFile> pid_file_;
  ioreq::EventLoop loop_;
  std::optional<Message> failure_;  // the worker's kFailed
  bool rejected_ = false;           // it broke the protocol and was killed
  bool suspended_ = false;
  hv::DomainInfo domain_;
};

int Supervisor::setup_failure(int code, const std::string& message) {
  channel_.close();  // the worker, waiting for kGo, exits
  reap();
  return fail(o_, code, message);
}

Status Supervisor::check_domain() {
  auto info = hostable_domain(o_.domid, handles_.domain_info());
  if (!info) return info.error();
  domain_ = *info;
  return {};
}

// Holding the instance lock, the state file is ours to judge: a server a
// dead daemon left for this very domain and SBDF is taken over; anything
// else is stale, and device memory starts empty.
Message Supervisor::go_message() {
  const StateOwner owner{o_.domid, o_.sbdf, domain_.handle};
  if (auto server = keep_.state->server_for(owner))
    return {MessageType::kGo, detail::kGoTakeOver, {}, std::to_string(*server)};
  keep_.state->reset(owner);
  if (::ftruncate(keep_.memory_fd, 0) != 0)
    spdlog::warn("cannot empty device memory's file: {}", errno_error("ftruncate").describe());
  return {MessageType::kGo, detail::kGoFresh, {}, {}};
}

int Supervisor::run() {
  auto handles = setup_.open_supervisor();
  if (!handles) return setup_failure(kExitUsage, handles.error().describe());
  handles_ = std::move(*handles);
  if (Status s = check_domain(); !s) return setup_failure(kExitUsage, s.error().message);
  auto lock = InstanceLock::acquire(o_.run_dir, o_.domid, o_.sbdf);
  if (!lock) return setup_failure(kExitUsage, lock.error().describe());
  if (!o_.pid_file.empty()) {
    if (Status s = PidFile::check(o_.pid_file); !s)
      return setup_failure(kExitUsage, s.error().describe());
  }
  publisher_.emplace(*handles_.store, xenstore::BackendInfo{o_.domid, o_.sbdf, device_.identity,
                                                            device_.status_keys, 0});
  if (Status s = publisher_->publish(); !s)
    return setup_failure(s.error().code == EBUSY ? kExitUsage : kExitRuntime,
                         "cannot publish the XenStore backend: " + s.error().describe());
  auto watch = xenstore::DomainWatch::start(*handles_.store, [this] {
    auto info = handles_.domain_info();
    return info && info->exists && !info->dying;
  });
  if (!watch) {
    [[maybe_unused]] Status s = publisher_->teardown();
    return setup_failure(kExitRuntime, "cannot watch @releaseDomain: " + watch.error().describe());
  }
  watch_ = std::move(*watch);

  loop_.add(channel_.fd(), [this] { return on_message(); });
  loop_.add(signals_.fd(), [this] { return on_signal(); });
  loop_.add(watch_->fd(), [this] { return on_watch(); });
  if (Status s = channel_.send(go_message()); !s)
    spdlog::error("cannot start the worker: {}", s.error().describe());
  const Status looped = loop_.run();
  if (!looped) {
    // The worker is still serving: stop it in order before reaping.
    spdlog::error("supervisor: {}", looped.error().describe());
    [[maybe_unused]] Status s = channel_.send({MessageType::kStop, 0, {}, {}});
  }
  return finish(reap());
}

Status Supervisor::on_message() {
  auto m = channel_.receive();
  if (!m) {
    reject(m.error().describe());
    return {};
  }
  if (!*m) {  // the worker closed its end: it is exiting
    loop_.request_stop();
    return {};
  }
  const Message& msg = **m;
  if (std::string why = policy_.check_from_worker(msg); !why.empty()) {
    reject(fmt::format("message type {}: {}", static_cast<unsigned>(msg.type), why));
    return {};
  }
  auto warn = [](const Status& s, std::string_view what) {
    if (!s) spdlog::warn("XenStore: cannot update {}: {}", what, s.error().describe());
  };
  switch (msg.type) {
    case MessageType::kServerEnabled:
      warn(publisher_->set_ioreq_server(static_cast<uint16_t>(std::stoul(msg.value))),
           "ioreq-server");
      warn(publisher_->set_state(xenstore::XenbusState::kInitWait), "state InitWait");
      break;
    case MessageType::kSetKey:
      warn(publisher_->set_key(msg.key, msg.value), msg.key);
      break;
    case MessageType::kReady:
      if (!o_.pid_file.empty()) {
        auto pf = PidFile::create(o_.pid_file);
        if (!pf) {
          spdlog::error("{}", pf.error().describe());
          failure_ = Message{MessageType::kFailed, kExitRuntime, {}, pf.error().describe()};
          [[maybe_unused]] Status s = channel_.send({MessageType::kStop, 0, {}, {}});
          break;
        }
        pid_file_.emplace(std::move(*pf));
      }
      if (Status s = publisher_->set_state(xenstore::XenbusState::kConnected); !s) {
        failure_ = Message{MessageType::kFailed,
                           kExitRuntime,
                           {},
                           "cannot publish Connected: " + s.error().describe()};
        [[maybe_unused]] Status st = channel_.send({MessageType::kStop, 0, {}, {}});
        break;
      }
      if (Status s = notify_systemd_ready("serving " + o_.sbdf.to_string()); !s)
        spdlog::warn("sd_notify READY: {}", s.error().describe());
      spdlog::info("serving {} ({}) through worker {}", o_.sbdf.to_string(),
                   device_.identity.summary(), worker_);
      break;
    case MessageType::kClosing: {
      [[maybe_unused]] Status stopping = notify_systemd_stopping();
      warn(publisher_->set_state(xenstore::XenbusState::kClosing), "state Closing");
      break;
    }
    case MessageType::kFailed:
      failure_ = msg;
      break;
    default:
      break;  // check_from_worker() admitted nothing else
  }
  return {};
}

// A worker that breaks the protocol is taken to be compromised: it is
// stopped at once, and its last words are not trusted.
void Supervisor::reject(const std::string& why) {
  spdlog::error("the worker (pid {}) broke the channel protocol ({}); killing it", worker_, why);
  ::kill(worker_, SIGKILL);
  rejected_ = true;
  loop_.request_stop();
}

Status Supervisor::on_signal() {
  const int sig = signals_.take();
  if (sig == SIGUSR1) {
    [[maybe_unused]] Status s = channel_.send({MessageType::kDumpTrace, 0, {}, {}});
  } else if (sig != 0) {
    spdlog::info("received signal {}, shutting down", sig);
    [[maybe_unused]] Status s = channel_.send({MessageType::kStop, 0, {}, {}});
  }
  return {};
}

Status Supervisor::on_watch() {
  auto gone = watch_->domain_gone();
  if (!gone) return gone.error();
  auto info = handles_.domain_info();
  if (*gone) {
    spdlog::info("domain {} is gone, shutting down", o_.domid);
    const uint8_t abnormal = info && info->abnormal_shutdown ? 1 : 0;
    [[maybe_unused]] Status s = channel_.send({MessageType::kDomainGone, abnormal, {}, {}});
    return {};
  }
  // xenstored fires @releaseDomain for a suspend as well: the guest is
  // paused for a save or a checkpoint, not gone.
  const bool suspended = info && info->suspended;
  if (suspended && !suspended_)
    spdlog::info("domain {} suspended (save or checkpoint); the device stays", o_.domid);
  if (!suspended && suspended_) spdlog::info("domain {} resumed", o_.domid);
  suspended_ = suspended;
  return {};
}

// Waits for the worker, killing it if it outstays kReapGrace.
int Supervisor::reap() {
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + kReapGrace;
  for (;;) {
    const pid_t r = ::waitpid(worker_, &status, WNOHANG);
    if (r == worker_) return status;
    if (r < 0 && errno != EINTR) return W_EXITCODE(kExitRuntime, 0);
    if (std::chrono::steady_clock::now() >= deadline) {
      spdlog::error("the worker (pid {}) does not exit; killing it", worker_);
      ::kill(worker_, SIGKILL);
      ::waitpid(worker_, &status, 0);
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

int Supervisor::finish(int status) {
  // XenStore is cleaned whatever became of the worker.
  watch_.reset();
  if (Status s = publisher_->teardown(); !s)
    spdlog::warn("XenStore teardown: {}", s.error().describe());
  pid_file_.reset();
  // A worker that exited tore its server down: nothing is left to take
  // over. One that was killed left it to the daemon that restarts.
  if (WIFEXITED(status)) {
    for (const std::string& name : {files_.state, files_.memory})
      if (::unlinkat(files_.dir_fd, name.c_str(), 0) != 0 && errno != ENOENT)
        spdlog::warn("{}", errno_error("cannot remove " + name).describe());
  } else {
    spdlog::info("kept {} and {} for a restarted daemon to take over the guest", files_.state,
                 files_.memory);
  }
  if (rejected_) return fail(o_, kExitRuntime, "the serving worker broke the channel protocol");
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    return fail(
        o_, kExitRuntime,
        fmt::format("the serving worker (pid {}) was killed by {}{}", worker_, describe_signal(sig),
                    sig == SIGSYS ? ": a system call outside its seccomp allow-list" : ""));
  }
  if (failure_) return fail(o_, failure_->code, failure_->value);
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : kExitRuntime;
  spdlog::info("exiting");
  return code == kExitOk ? kExitOk : kExitRuntime;
}

}  // namespace

int serve_split(const Options& o, const DeviceSpec& device, const SplitSetup& setup) {
  // Before any thread exists and before the fork, so both halves inherit
  // the blocked mask.
  auto signals = SignalFd::open_for_termination();
  if (!signals) return fail(o, kExitRuntime, signals.error().describe());
  auto channels = Channel::pair();
  if (!channels) return fail(o, kExitRuntime, channels.error().describe());
  // What must outlive both processes is opened here, so that both inherit
  // it; only the supervisor, holding the instance lock, judges or removes it.
  auto dir = open_run_dir(o.run_dir);
  if (!dir) return fail(o, kExitUsage, dir.error().describe());
  const int dir_fd = *dir;
  const std::string base = InstanceLock::instance_name(o.domid, o.sbdf);
  const KeptFiles files{dir_fd, base + ".state", base + ".mem"};
  auto state = StateFile::open(dir_fd, files.state);
  if (!state) return fail(o, kExitUsage, state.error().describe());
  auto memory_fd = open_own_file(dir_fd, files.memory);
  if (!memory_fd) return fail(o, kExitUsage, memory_fd.error().describe());
  const detail::Persistence keep{state->get(), *memory_fd};
  spdlog::default_logger()->flush();
  const pid_t pid = ::fork();
  if (pid < 0) return fail(o, kExitRuntime, errno_error("fork").describe());
  if (pid == 0) {
    channels->first.close();
    ::close(dir_fd);  // the worker opens nothing by name
    const int rc = detail::run_worker(o, device, setup, keep, channels->second, *signals);
    spdlog::default_logger()->flush();
    // Not exit(): the destructors and atexit handlers of the parent's
    // objects (the copy this process inherited) must not run here.
    ::_exit(rc);
  }
  channels->second.close();
  Supervisor supervisor(o, device, setup, keep, files, pid, std::move(channels->first), *signals);
  return supervisor.run();
}

}  // namespace vgpu::app
