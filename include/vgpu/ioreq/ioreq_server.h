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

#include <cstdint>
#include <memory>
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
  static Result<std::unique_ptr<IoreqServer>> start(hv::Hypervisor& hv, Dispatcher& dispatcher);
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

  // Teardown's first half: disables the server, then drains it. Returns how
  // many requests it answered. The destructor calls it if nobody did.
  unsigned stop();

  const ServerStats& stats() const { return stats_; }
  // The last requests of each slot and our answers (always recorded).
  const TraceRing& trace() const { return trace_; }

  // The domain is gone: Xen has destroyed the server with it, so teardown
  // only releases what is ours (the page mapping, the local ports).
  void domain_gone() { domain_gone_ = true; }

 private:
  IoreqServer(hv::Hypervisor& hv, Dispatcher& dispatcher) : hv_(hv), dispatcher_(dispatcher) {}
  Status acquire();
  Status bind_ports();
  // The slot handshake (READY, acquire, copy, INPROCESS, answer, release,
  // IORESP_READY, notify) for vCPU `vcpu`. Returns true if it answered.
  bool serve(unsigned vcpu);

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

  // Release actions, in acquisition order; destroyed in reverse (enabled_
  // normally released early, by stop()).
  ScopedRelease server_;
  ScopedRelease page_mapping_;
  ScopedRelease enabled_;
  ScopedRelease ports_;
};

}  // namespace vgpu::ioreq
