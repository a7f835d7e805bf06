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
#include <string_view>

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

struct DaemonConfig {
  pci::Sbdf sbdf;
  pci::DeviceFactory make_device;
};

// Told of the daemon's externally visible state (XenStore publishes it).
// Called on the daemon's thread.
class DaemonObserver {
 public:
  virtual ~DaemonObserver() = default;
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
  // A guest may move BARs or toggle decoding in a loop: these lines are
  // rate-limited; the claims and XenStore still follow every change.
  RateLimitedLog bar_log_{"BAR placement lines", spdlog::level::info, 20, std::chrono::seconds(10)};
  RateLimitedLog claim_failure_log_{"failed BAR claims", spdlog::level::err};
};

}  // namespace vgpu::app
