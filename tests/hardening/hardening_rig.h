// The real daemon (app::Daemon, on its own thread through
// testing::DaemonThread) against the simulated hypervisor, plus the checks
// every bad-input test ends with: no protocol violation (no stuck slot, no
// crashed domain) and no leaked claim.
//
// Thread-compatible: the test thread plays the guest; the daemon's thread is
// internal. Daemon-side state (dispatcher stats) is read only after a
// request completed, which the slot's release/acquire orders.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "../support/daemon_thread.h"
#include "vgpu/ioreq/dispatcher.h"
#include "vgpu/sim/sim_guest.h"
#include "vgpu/sim/sim_hypervisor.h"

namespace vgpu::hardening {

inline constexpr pci::Sbdf kSbdf{0, 0, 5, 0};
inline constexpr uint32_t kBar0 = 0xf0000000;
inline constexpr uint64_t kBar0Size = 4096;

sim::SimConfig sim_config(unsigned vcpus = 1);

class Rig final {
 public:
  explicit Rig(unsigned vcpus = 1);
  ~Rig();
  Rig(const Rig&) = delete;
  Rig& operator=(const Rig&) = delete;

  // Starts the daemon (create, map, enable, bind, claim SBDF) and its event
  // loop. Split from the constructor so that a test can set up another
  // device model on hv() first.
  void start();
  // Stops the loop and tears the daemon down (claims, drain, server).
  // Idempotent.
  void stop();

  sim::SimHypervisor& hv() { return hv_; }
  sim::SimGuest& guest() { return guest_; }
  hv::ServerId id() const { return id_; }
  // While started.
  const ioreq::DispatchStats& dispatch_stats() const {
    return daemon_->daemon().dispatcher().stats();
  }

  // One request through the real slot handshake, sent to our server.
  ioreq_t issue(const ioreq_t& req, unsigned vcpu = 0);
  // Config access through ioreqs (any offset up to 0xFFF and beyond).
  uint32_t config_read(uint32_t offset, unsigned size);
  void config_write(uint32_t offset, unsigned size, uint32_t value);
  // Programs BAR0 and the Memory Space bit as a guest would.
  void place_bar0(uint32_t value, bool decode);
  std::vector<hv::MmioRange> claimed() const { return hv_.mmio_ranges(id_); }
  // What the guest decodes now, read back through config space and judged
  // by the spec's rule: Memory Space on and BAR0 neither 0 nor the sizing
  // value. This is what claimed() must equal after every access.
  std::vector<hv::MmioRange> decoded_window();

  // Empty if the device still answers a config read correctly and the
  // simulator saw no protocol violation; else what went wrong.
  std::string health();

 private:
  sim::SimHypervisor hv_;
  sim::SimGuest guest_;
  std::optional<testing::DaemonThread> daemon_;
  hv::ServerId id_ = 0;  // kept after stop() for the leak checks
};

// Checks the simulator's control-call log: every MMIO range and SBDF our
// server mapped was unmapped, exactly, before the server was destroyed.
// Returns the first problem, or empty.
std::string claim_leaks(const std::vector<sim::SimCall>& calls, hv::ServerId server);

}  // namespace vgpu::hardening
