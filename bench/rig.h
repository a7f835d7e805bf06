// Test rigs shared by the benchmarks and the callgrind driver: the real
// dispatcher, device host and claims, wired as app::Daemon wires them, against
// the simulated hypervisor. Nothing here is a stand-in for our own code; only
// Xen is simulated.
//
// Thread-compatible, except ServingRig, whose server runs on its own thread
// while guest threads use the simulated hypervisor's guest side.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <thread>

#include "vgpu/host/claims.h"
#include "vgpu/host/device_host.h"
#include "vgpu/ioreq/dispatcher.h"
#include "vgpu/ioreq/event_loop.h"
#include "vgpu/ioreq/ioreq_server.h"
#include "vgpu/pci/sbdf.h"
#include "vgpu/sim/sim_hypervisor.h"

namespace vgpu::bench {

inline constexpr pci::Sbdf kSbdf{0, 0, 5, 0};
inline constexpr uint64_t kBar0A = 0xf0000000;
inline constexpr uint64_t kBar0B = 0xf0010000;

// Routes spdlog to a sink that formats and drops, so the cost of every log
// line the request path emits is measured without terminal I/O.
void silence_logging();

// A request as Xen builds it for a guest access.
ioreq_t make_request(uint8_t type, uint8_t dir, uint64_t addr, uint32_t size, uint64_t data = 0);
ioreq_t config_request(uint8_t dir, uint32_t offset, uint32_t size, uint32_t data = 0);

// The request path without transport: a private ioreq_t copy goes through
// Dispatcher -> DeviceHost -> VgpuStub, and BAR0 moves go through Claims to
// the (simulated) hypervisor, exactly as in the daemon. BAR0 is placed at
// kBar0A with memory decoding on.
class PathRig final : private host::Bar0Listener {
 public:
  explicit PathRig(bool with_claims = true);
  ~PathRig() override;

  ioreq::Outcome dispatch(ioreq_t& req) { return dispatcher_.dispatch(req); }
  sim::SimHypervisor& hv() { return hv_; }
  const host::Claims* claims() const { return claims_.get(); }

 private:
  void bar0_changed(std::optional<pci::BarMapping> now) override;

  sim::SimHypervisor hv_;
  host::DeviceHost host_;
  ioreq::Dispatcher dispatcher_;
  std::unique_ptr<ioreq::IoreqServer> server_;
  std::unique_ptr<host::Claims> claims_;
};

// The real ioreq server and event loop on their own thread, serving guest
// vCPU threads through the simulated hypervisor's slots and event channels.
// BAR0 is placed at kBar0A, decoding on, by a guest config write sequence.
class ServingRig final : private host::Bar0Listener {
 public:
  explicit ServingRig(unsigned vcpus);
  ~ServingRig() override;

  sim::SimHypervisor& hv() { return hv_; }
  hv::ServerId server_id() const { return server_->id(); }
  const ioreq::ServerStats& stats() const { return server_->stats(); }

 private:
  void bar0_changed(std::optional<pci::BarMapping> now) override;

  sim::SimHypervisor hv_;
  host::DeviceHost host_;
  ioreq::Dispatcher dispatcher_;
  std::unique_ptr<ioreq::IoreqServer> server_;
  std::unique_ptr<host::Claims> claims_;
  ioreq::EventLoop loop_;
  std::thread thread_;
};

}  // namespace vgpu::bench
