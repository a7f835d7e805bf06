#include "vgpu/app/runner.h"

#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>

#include "vgpu/app/backend_state.h"
#include "vgpu/app/instance_lock.h"
#include "vgpu/app/pid_file.h"
#include "vgpu/app/signals.h"
#include "vgpu/device/vgpu_stub.h"
#include "vgpu/xenstore/domain_watch.h"
#include "vgpu/xenstore/systemd_notify.h"

namespace vgpu::app {
namespace {

// The guest is gone once @releaseDomain fires and the domain no longer
// exists (docs/spec.md §6, step 4).
Result<std::unique_ptr<xenstore::DomainWatch>> watch_domain(hv::Hypervisor& hv,
                                                            xenstore::Store& store) {
  return xenstore::DomainWatch::start(store, [&hv] {
    auto info = hv.domain_info();
    return info && info->exists && !info->dying;
  });
}

}  // namespace

DeviceSpec stub_device(const Options& o) {
  const device::StubConfig config{o.bar0_size, o.class_code, o.mem_limit};
  return DeviceSpec{device::stub_identity(config),
                    device::stub_factory(config),
                    {{device::kQueueStatusKey, queue::to_string(queue::QueueState::kDisabled)},
                     {device::kMemLimitStatusKey, std::to_string(o.mem_limit)}},
                    [config](int memory_fd) {
                      device::StubConfig with_file = config;
                      with_file.memory_fd = memory_fd;
                      return device::stub_factory(with_file);
                    }};
}

Result<hv::DomainInfo> hostable_domain(uint16_t domid, Result<hv::DomainInfo> info) {
  if (!info) return info.error();
  const std::string dom = "domain " + std::to_string(domid);
  if (!info->exists) return Error{ESRCH, dom + " does not exist"};
  if (!info->hvm) return Error{EINVAL, dom + " is not an HVM guest"};
  if (info->dying) return Error{ESRCH, dom + " is shutting down"};
  return info;
}

Failure bring_up_failure(const Options& o, const Error& e) {
  if (e.code == EEXIST || e.code == EBUSY)
    return {kExitUsage, "SBDF " + o.sbdf.to_string() + " is already claimed in domain " +
                            std::to_string(o.domid) + ": " + e.describe()};
  return {kExitRuntime, "cannot start the ioreq server: " + e.describe()};
}

int fail(const Options& options, int code, const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", options.program.c_str(), message.c_str());
  if (!options.log_file.empty()) spdlog::error("{}", message);
  return code;
}

int serve(hv::Hypervisor& hv, xenstore::Store& store, const Options& o, const DeviceSpec& device,
          const ServeHooks& hooks) {
  if (auto info = hostable_domain(hv.domid(), hv.domain_info()); !info)
    return fail(o, kExitUsage, info.error().message);
  auto lock = InstanceLock::acquire(o.run_dir, o.domid, o.sbdf);
  if (!lock) return fail(o, kExitUsage, lock.error().describe());
  if (!o.pid_file.empty()) {
    if (Status s = PidFile::check(o.pid_file); !s) return fail(o, kExitUsage, s.error().describe());
  }
  // Before any thread exists (libxenstore starts one for watches), so that
  // every thread inherits the blocked mask.
  auto signals = SignalFd::open_for_termination();
  if (!signals) return fail(o, kExitRuntime, signals.error().describe());

  auto backend_state =
      BackendState::create(store, {o.domid, o.sbdf, device.identity, device.status_keys, 0});
  if (!backend_state) return fail(o, kExitRuntime, backend_state.error().describe());
  BackendState& backend = **backend_state;
  if (Status s = backend.publish(); !s)
    return fail(o, s.error().code == EBUSY ? kExitUsage : kExitRuntime,
                "cannot publish the XenStore backend: " + s.error().describe());
  auto daemon = Daemon::start(hv, DaemonConfig{o.sbdf, device.make_device}, &backend);
  if (!daemon) {
    const Failure f = bring_up_failure(o, daemon.error());
    return fail(o, f.code, f.message);
  }
  Daemon& d = **daemon;
  auto watch = watch_domain(hv, store);
  if (!watch)
    return fail(o, kExitRuntime, "cannot watch @releaseDomain: " + watch.error().describe());

  std::optional<PidFile> pid_file;
  if (!o.pid_file.empty()) {
    auto pf = PidFile::create(o.pid_file);
    if (!pf) return fail(o, kExitRuntime, pf.error().describe());
    pid_file.emplace(std::move(*pf));
  }

  d.loop().add(signals->fd(), [&] {
    if (int sig = signals->take(); sig == SIGUSR1) {
      d.dump_trace("SIGUSR1");
    } else if (sig != 0) {
      spdlog::info("received signal {}, shutting down", sig);
      d.request_stop();
    }
    return Status{};
  });
  bool suspended = false;
  d.loop().add((*watch)->fd(), [&] {
    auto gone = (*watch)->domain_gone();
    if (!gone) return Status(gone.error());
    if (!*gone) {
      // @releaseDomain fires for a suspend as well (xl save, a checkpoint):
      // the guest is paused, not gone, and will use the device again.
      const auto info = hv.domain_info();
      const bool now = info && info->suspended;
      if (now && !suspended)
        spdlog::info("domain {} suspended (save or checkpoint); the device stays", o.domid);
      if (!now && suspended) spdlog::info("domain {} resumed", o.domid);
      suspended = now;
    } else {
      if (auto info = hv.domain_info(); info && info->abnormal_shutdown)
        d.dump_trace("the guest shut down abnormally: a crash, or a reboot such as a triple fault");
      spdlog::info("domain {} is gone, shutting down", o.domid);
      d.domain_gone();
    }
    return Status{};
  });
  d.loop().add(backend.timer_fd(), [&] { return backend.on_timer(); });

  if (Status s = backend.connected(); !s)
    return fail(o, kExitRuntime, "cannot publish Connected: " + s.error().describe());
  if (Status s = notify_systemd_ready("serving " + o.sbdf.to_string()); !s)
    spdlog::warn("sd_notify READY: {}", s.error().describe());
  spdlog::info("serving {} as ioreq server {} ({})", o.sbdf.to_string(), d.server_id(),
               device.identity.summary());
  if (hooks.on_ready) hooks.on_ready(d);

  const Status result = d.run();
  if (!result) spdlog::error("stopping: {}", result.error().describe());
  [[maybe_unused]] Status stopping = notify_systemd_stopping();
  if (Status s = backend.closing(); !s) spdlog::debug("XenStore Closing: {}", s.error().describe());
  daemon->reset();  // orderly teardown before we report the exit
  if (Status s = backend.teardown(); !s)
    spdlog::warn("XenStore teardown: {}", s.error().describe());
  if (hooks.after_teardown) hooks.after_teardown();
  spdlog::info("exiting");
  return result ? kExitOk : kExitRuntime;
}

}  // namespace vgpu::app
