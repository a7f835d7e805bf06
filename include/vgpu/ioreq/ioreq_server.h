// One secondary ioreq server: its slots, its event channels, its handshake.
//
// start() acquires in the order Xen requires: create the server,
// map its ioreq page, enable it, and only then read each slot's vp_eport and
// bind one event channel per vCPU (Xen writes vp_eport only on enable).
// Teardown is not the plain reverse (docs/spec.md §7): stop() disables the
// server first, so Xen sends it nothing new, then answers what vCPUs already
// put in their slots while the event channels still reach them; only then
// does the destructor unbind the channels, unmap the page and destroy the
// server. Claims (SBDF, MMIO) are not held here: whoever owns the device
// claims them on id() once start() has succeeded, and releases them before
// stop().
//
// Thread-compatible: used from the event-loop thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "vgpu/common/result.h"
#include "vgpu/common/scoped_release.h"
#include "vgpu/hv/hypervisor.h"
#include "vgpu/ioreq/dispatcher.h"
#include "vgpu/ioreq/trace_ring.h"

namespace vgpu::ioreq {

struct ServerStats {
  uint64_t wakeups = 0;   // fd readable and a port was pending
  uint64_t spurious = 0;  // woken for a slot that was not READY
  uint64_t served = 0;    // requests answered
};

class IoreqServer {
 public:
  // `created` hears the new server's id the moment Xen has created it,
  // before it is enabled: whoever must find it again after a kill (the
  // restart's state file) records it there, so that no window leaves an
  // enabled server nobody knows of.
  using CreatedHook = std::function<void(hv::ServerId)>;
  static Result<std::unique_ptr<IoreqServer>> start(hv::Hypervisor& hv, Dispatcher& dispatcher,
                                                    const CreatedHook& created = {});
  // A restart (docs/spec.md §12): takes over server `id`, which a daemon
  // that died left behind, enabled, with its SBDF and MMIO claims: maps its
  // page, makes sure it is enabled and binds every vCPU's event channel
  // again (the dead process's ends were closed, which left Xen's ends
  // unbound). Fails when the server is not there. Serve nothing until the
  // device is restored; then call resume().
  static Result<std::unique_ptr<IoreqServer>> attach(hv::Hypervisor& hv, Dispatcher& dispatcher,
                                                     hv::ServerId id);
  ~IoreqServer();
  IoreqServer(const IoreqServer&) = delete;
  IoreqServer& operator=(const IoreqServer&) = delete;

  hv::ServerId id() const { return id_; }
  // Poll this for readability, then call on_event().
  int fd() const;

  // One wake-up: take one pending port, unmask it, then serve
  // that vCPU's slot.
  Status on_event();

  // Serves every slot left READY, so that no vCPU stays blocked on us
  // (teardown). Returns how many were served.
  unsigned drain();

  // After attach(): answers what the dead daemon left in the slots. READY
  // requests are served; INPROCESS ones (taken, never answered) are served
  // again from the slot, which Xen leaves alone until IORESP_READY; a slot
  // left at IORESP_READY gets the notification it may have missed. Returns
  // how many requests it answered.
  unsigned resume();

  // The process dies without a teardown (a simulated kill -9): only what
  // the kernel would release goes (the page mapping, our event channel
  // ends); the server, its claims and its state stay for the next daemon.
  void abandon();

  // Teardown's first half: disables the server, then drains it. Returns how
  // many requests it answered. The destructor calls it if nobody did.
  unsigned stop();

  // Runs after each request is handled and before its answer is published:
  // the daemon saves the device's state there, so that no answer the guest
  // has seen is lost to a kill (docs/spec.md §12).
  void set_before_answer(std::function<void(const ioreq_t&)> hook) {
    before_answer_ = std::move(hook);
  }

  const ServerStats& stats() const { return stats_; }
  // The last requests of each slot and our answers (always recorded).
  const TraceRing& trace() const { return trace_; }

  // The domain is gone: Xen has destroyed the server with it, so teardown
  // only releases what is ours (the page mapping, the local ports).
  void domain_gone() { domain_gone_ = true; }

 private:
  IoreqServer(hv::Hypervisor& hv, Dispatcher& dispatcher) : hv_(hv), dispatcher_(dispatcher) {}
  Status acquire(std::optional<hv::ServerId> existing, const CreatedHook& created);
  // `patience`: how long a bind may keep failing before it is an error (a
  // restart: the dead process may still be closing its ends).
  Status bind_ports(std::chrono::milliseconds patience = std::chrono::milliseconds(0));
  // The slot handshake (READY, acquire, copy, INPROCESS, answer, release,
  // IORESP_READY, notify) for vCPU `vcpu`. Returns true if it answered.
  bool serve(unsigned vcpu);
  // serve() of a request whose slot state is `state` (READY, or INPROCESS
  // when resuming).
  bool answer(unsigned vcpu, uint8_t expected_state);

  hv::Hypervisor& hv_;
  Dispatcher& dispatcher_;
  hv::ServerId id_ = 0;
  unsigned vcpus_ = 0;
  ioreq_t* page_ = nullptr;
  std::vector<hv::Port> local_port_;   // by vCPU
  std::vector<int32_t> vcpu_of_port_;  // by local port; -1 if not ours
  ServerStats stats_;
  TraceRing trace_{0};  // sized for vcpus_ by acquire()
  bool domain_gone_ = false;
  std::function<void(const ioreq_t&)> before_answer_;

  // Release actions, in acquisition order; destroyed in reverse (enabled_
  // normally released early, by stop()).
  ScopedRelease server_;
  ScopedRelease page_mapping_;
  ScopedRelease enabled_;
  ScopedRelease ports_;
};

}  // namespace vgpu::ioreq
