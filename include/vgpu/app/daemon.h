// The running device model: one ioreq server serving one PCI device.
//
// start() brings it to the point where the guest may be unpaused: server
// created, page mapped, enabled, every vCPU's event channel bound, SBDF
// claimed (docs/spec.md §4: "Connected"). run() then serves requests until
// asked to stop. The destructor releases the claims first (so nothing new
// is routed to us), disables the server, answers requests in flight (a vCPU
// left waiting would block until the server is destroyed), then unbinds the
// event channels, unmaps the page and destroys the server (docs/spec.md §7).
//
// Thread-compatible, except request_stop(), which any thread may call.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "vgpu/common/rate_limited_log.h"
#include "vgpu/common/result.h"
#include "vgpu/dma/mapping_cache.h"
#include "vgpu/host/claims.h"
#include "vgpu/host/device_host.h"
#include "vgpu/hv/hypervisor.h"
#include "vgpu/ioreq/dispatcher.h"
#include "vgpu/ioreq/event_loop.h"
#include "vgpu/ioreq/ioreq_server.h"

namespace vgpu::app {

// Where the device's state goes after every change the guest can observe,
// so that a restarted daemon can take over (docs/spec.md §12). Called on the
// loop thread, before the answer to the request that made the change.
class DeviceStateSink {
 public:
  virtual ~DeviceStateSink() = default;
  virtual void save(std::span<const std::byte> state) = 0;
};

// A dead daemon's server and device, to take over instead of starting anew.
struct Resume {
  hv::ServerId server = 0;
  // The device's state as DeviceStateSink::save() last got it. Called once
  // the server is taken over: its event channels are ours again, so the
  // dead daemon can no longer be answering (and saving) anything.
  std::function<Result<std::vector<std::byte>>()> load_state;
};

struct DaemonConfig {
  DaemonConfig(pci::Sbdf sbdf_in, pci::DeviceFactory make_device_in,
               std::optional<Resume> resume_in = std::nullopt,
               DeviceStateSink* state_sink_in = nullptr)
      : sbdf(sbdf_in),
        make_device(std::move(make_device_in)),
        resume(std::move(resume_in)),
        state_sink(state_sink_in) {}

  pci::Sbdf sbdf;
  pci::DeviceFactory make_device;
  std::optional<Resume> resume;  // take over a dead daemon's server
  DeviceStateSink* state_sink;   // must outlive the daemon; null: not saved
};

// Told of the daemon's externally visible state (XenStore publishes it).
// Called on the daemon's thread.
class DaemonObserver {
 public:
  virtual ~DaemonObserver() = default;
  // Xen has just created the server; it is not enabled yet. What must
  // survive a kill (the restart's state file) records it now.
  virtual void server_created(hv::ServerId /*id*/) {}
  // The server is enabled and its event channels bound; the SBDF is next.
  virtual void server_enabled(hv::ServerId id) = 0;
  // The window we claimed for BAR `index`, or nullopt when none is.
  virtual void bar_changed(unsigned index, std::optional<pci::BarMapping> now) = 0;
  // A device status key changed (the command queue's state, say).
  virtual void device_status(std::string_view key, std::string_view value) = 0;
};

class Daemon final : private host::HostListener {
 public:
  // `observer`, if given, must outlive the daemon.
  static Result<std::unique_ptr<Daemon>> start(hv::Hypervisor& hv, const DaemonConfig& config,
                                               DaemonObserver* observer = nullptr);
  ~Daemon() override;
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Other fds to watch (signalfd, XenStore watch) go on this loop.
  ioreq::EventLoop& loop() { return loop_; }
  Status run() { return loop_.run(); }
  void request_stop() { loop_.request_stop(); }
  // The guest was destroyed, and Xen released our server and claims with it:
  // stop, and tear down only what is ours.
  void domain_gone();
  // Dies as a kill -9 would leave things (tests of restart): no teardown;
  // the server, its claims, the saved state and device memory stay for the
  // next daemon. Destroy the daemon next.
  void abandon();
  // Whether start() took over a dead daemon's server, and how many requests
  // it found waiting and answered then.
  bool resumed() const { return resumed_; }
  unsigned answered_on_resume() const { return answered_on_resume_; }
  // Logs the last requests of every slot and our answers (the guest died;
  // an administrator asked with SIGUSR1).
  void dump_trace(std::string_view why) const;

  hv::ServerId server_id() const { return server_->id(); }
  const ioreq::IoreqServer& server() const { return *server_; }
  const ioreq::Dispatcher& dispatcher() const { return dispatcher_; }
  // For benchmarks of the request path without transport: they dispatch
  // private ioreq_t copies as the server would, through the same wiring
  // (BAR moves reach the claims). Only while run() is not running.
  ioreq::Dispatcher& dispatcher() { return dispatcher_; }
  const host::Claims& claims() const { return *claims_; }
  const pci::PciDevice& device() const { return host_.device(); }
  const dma::MappingCache& dma() const { return dma_; }

 private:
  Daemon(hv::Hypervisor& hv, const DaemonConfig& config, DaemonObserver* observer);
  Status bring_up();
  Status restore(const Resume& resume);
  void save_state();
  void bar_changed(unsigned index, std::optional<pci::BarMapping> now) override;
  void device_status(std::string_view key, std::string_view value) override;

  // Declaration order is acquisition order; see the destructor for teardown.
  hv::Hypervisor& hv_;
  dma::MappingCache dma_;  // every guest-memory access of the device and the transport
  host::DeviceHost host_;
  ioreq::Dispatcher dispatcher_;
  std::unique_ptr<ioreq::IoreqServer> server_;
  std::unique_ptr<host::Claims> claims_;
  ioreq::EventLoop loop_;
  DaemonObserver* observer_ = nullptr;
  std::optional<Resume> resume_;
  DeviceStateSink* state_sink_ = nullptr;
  std::vector<std::byte> state_buffer_;  // reused by every save
  bool resumed_ = false;
  unsigned answered_on_resume_ = 0;
  bool abandoned_ = false;
  // A guest may move BARs or toggle decoding in a loop: these lines are
  // rate-limited; the claims and XenStore still follow every change.
  RateLimitedLog bar_log_{"BAR placement lines", spdlog::level::info, 20, std::chrono::seconds(10)};
  RateLimitedLog claim_failure_log_{"failed BAR claims", spdlog::level::err};
};

}  // namespace vgpu::app
