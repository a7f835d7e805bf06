// Test rigs shared by the benchmarks and the callgrind driver: the real
// daemon (app::Daemon: dispatcher, device host, ioreq server and claims)
// against the simulated hypervisor. Nothing here is a stand-in for our own
// code; only Xen is simulated.
//
// Thread-compatible, except ServingRig, whose daemon runs on its own thread
// while guest threads use the simulated hypervisor's guest side.
#pragma once

#include <cstdint>
#include <memory>

#include "daemon_thread.h"
#include "vgpu/app/daemon.h"
#include "vgpu/host/claims.h"
#include "vgpu/host/device_host.h"
#include "vgpu/ioreq/dispatcher.h"
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
// the (simulated) hypervisor, in the daemon itself: app::Daemon is brought
// up (server created, enabled, bound, SBDF claimed) but its event loop never
// runs; requests go to its dispatcher directly. With `with_claims` false,
// there is no daemon, only a DeviceHost (no BAR0 listener) and a Dispatcher:
// what the device and config space alone cost. BAR0 is placed at kBar0A
// with memory decoding on.
class PathRig final {
 public:
  explicit PathRig(bool with_claims = true);
  ~PathRig();
  PathRig(const PathRig&) = delete;
  PathRig& operator=(const PathRig&) = delete;

  ioreq::Outcome dispatch(ioreq_t& req) { return dispatcher_->dispatch(req); }
  sim::SimHypervisor& hv() { return hv_; }
  const host::Claims* claims() const { return daemon_ ? &daemon_->claims() : nullptr; }

 private:
  struct DeviceOnly;

  sim::SimHypervisor hv_;
  std::unique_ptr<app::Daemon> daemon_;      // with claims
  std::unique_ptr<DeviceOnly> device_only_;  // without
  ioreq::Dispatcher* dispatcher_ = nullptr;  // the one of either
};

// The real daemon (ioreq server and event loop) on its own thread, serving
// guest vCPU threads through the simulated hypervisor's slots and event
// channels. BAR0 is placed at kBar0A, decoding on, by a guest config write
// sequence.
class ServingRig final {
 public:
  explicit ServingRig(unsigned vcpus);

  sim::SimHypervisor& hv() { return hv_; }
  hv::ServerId server_id() const { return daemon_.daemon().server_id(); }
  const ioreq::ServerStats& stats() const { return daemon_.daemon().server().stats(); }

 private:
  sim::SimHypervisor hv_;
  testing::DaemonThread daemon_;
};

}  // namespace vgpu::bench
