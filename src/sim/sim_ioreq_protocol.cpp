// The vCPU half of Xen's synchronous ioreq protocol (the slot handshake seen from the
// hypervisor): the slot must be NONE; write the request; publish READY with
// release; notify the server's port; block on the vCPU's own event fd and
// on every wake-up read the state with acquire. IORESP_READY completes it
// (the vCPU sets NONE); READY and INPROCESS mean keep waiting; anything else
// is what Xen answers with domain_crash, recorded here as a violation.
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "sim_internal.h"

namespace vgpu::sim {

namespace {

using Clock = std::chrono::steady_clock;

const char* state_name(uint8_t state) {
  return abi::state_name(state);
}

}  // namespace

// Claims the vCPU for this thread; false if the access cannot happen at all.
bool SimHypervisor::claim_vcpu_locked(unsigned vcpu, const char* what) {
  if (vcpu >= vcpus_.size()) {
    violation_locked(
        format("guest used vCPU %u for %s, but the domain has %zu", vcpu, what, vcpus_.size()));
    return false;
  }
  if (vcpus_[vcpu]->busy.exchange(true)) {
    violation_locked(format("two threads drove vCPU %u at once (%s)", vcpu, what));
    return false;
  }
  if (exists_ && !crashed_ && !vcpus_[vcpu]->hung) return true;
  vcpus_[vcpu]->busy = false;  // a dead domain or stuck vCPU runs nothing
  return false;
}

// One access: publish, wake each server, wait. The request lives on the
// stack (at most one Pending per server slot), so nothing is allocated.
ioreq_t SimHypervisor::run_requests(unsigned vcpu, const ioreq_t& req, Route route) {
  ioreq_t result = req;
  if (req.dir == IOREQ_READ) result.data = ~uint64_t{0};  // reads of nothing
  std::array<Pending, kMaxServers> pending;
  const size_t n = publish_all(vcpu, req, route, pending);
  if (n == 0) return result;
  for (size_t i = 0; i < n; ++i) pending[i].response = result;
  // Outside the mutex, so that the woken server does not run into it.
  for (size_t i = 0; i < n; ++i) {
    if (pending[i].wake) signal_fd(pending[i].wake->fd);
    pending[i].wake.reset();
  }
  Vcpu& v = *vcpus_[vcpu];
  wait_all(v, std::span(pending).first(n));
  for (size_t i = 0; i < n; ++i) v.waiting[pending[i].server] = kNotWaiting;
  v.busy = false;
  return n == 1 ? pending[0].response : result;
}

// Routes the request, claims the vCPU and publishes the request in every
// target's slot, all under one acquisition of the mutex. Returns how many
// servers the vCPU now waits for; 0 means no server takes it, or the vCPU
// cannot run (then it is not claimed).
size_t SimHypervisor::publish_all(unsigned vcpu, const ioreq_t& req, Route route,
                                  std::span<Pending> pending) {
  std::array<hv::ServerId, kMaxServers> ids{};
  std::lock_guard lock(mutex_);
  const size_t n = targets_locked(req, route, ids);
  if (n == 0 || !claim_vcpu_locked(vcpu, abi::type_name(req.type))) return 0;
  Vcpu& v = *vcpus_[vcpu];
  for (size_t i = 0; i < n; ++i) {
    const Server& s = *servers_.at(ids[i]);
    Pending& p = pending[i];
    p.server = ids[i];
    p.page = s.page;  // a destroy must not free the slot under the vCPU
    p.slot = s.page.get() + vcpu;
    p.port = s.ports[vcpu];
    v.waiting[p.server] = kWaiting;
    p.done = !publish_locked(v, p, req);
  }
  return n;
}

// Writes the request into the slot and marks it READY; leaves in p.wake the
// eventfd to signal once the mutex is released.
bool SimHypervisor::publish_locked(Vcpu& v, Pending& p, const ioreq_t& req) {
  const uint8_t state = abi::load_state(p.slot);
  if (state != STATE_IOREQ_NONE) {
    crashed_ = true;
    violation_locked(
        format("domain crashed: device model set bad IO state %s in vCPU %u's slot of "
               "server %u before a new request",
               state_name(state), v.index, unsigned{p.server}));
    return false;
  }
  // vp_eport is left as Xen published it on enable.
  p.slot->addr = req.addr;
  p.slot->data = req.data;
  p.slot->count = req.count;
  p.slot->size = req.size;
  p.slot->type = req.type;
  // Byte 30 holds the flags and the state: written in one release store so
  // that the server never sees READY before the fields. It precedes the
  // notification, also one latched for a masked port.
  const auto flags = static_cast<uint8_t>((req.data_is_ptr & 1u) << 4 | (req.dir & 1u) << 5 |
                                          (req.df & 1u) << 6 | STATE_IOREQ_READY);
  __atomic_store_n(abi::state_byte(p.slot), flags, __ATOMIC_RELEASE);

  auto it = remote_ports_.find(p.port);
  if (it != remote_ports_.end() && it->second.bound_by != nullptr) {
    p.wake = it->second.bound_by->signal_locked(it->second.local);
  }  // else: like EVTCHNOP_send on an unbound port, the event is lost
  return true;
}

void SimHypervisor::wait_all(Vcpu& v, std::span<Pending> pending) {
  const auto deadline = Clock::now() + config_.response_timeout;
  auto open = [&] {
    return std::any_of(pending.begin(), pending.end(), [](const Pending& p) { return !p.done; });
  };
  while (open() && !crashed_) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      for (Pending& p : pending) {
        if (!p.done) report_hang(v.index, p);
      }
      std::lock_guard lock(mutex_);
      v.hung = true;
      return;
    }
    pollfd pfd{v.event_fd, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
    uint64_t count = 0;
    (void)!::read(v.event_fd, &count, sizeof count);
    // Xen looks at the slot only when the port wakes the vCPU: a server
    // that answers without notifying hangs the vCPU here too.
    for (Pending& p : pending) {
      if (!p.done) poll_slot(v, p);
    }
  }
}

// One look at a slot after a wake-up.
bool SimHypervisor::poll_slot(Vcpu& v, Pending& p) {
  if (v.waiting[p.server] == kReleased) return p.done = true;  // server destroyed: all ones
  const uint8_t state = abi::load_state(p.slot);
  if (state == p.last_state && state != STATE_IORESP_READY) return false;  // spurious
  p.done = true;
  if (state == STATE_IORESP_READY) {
    p.response = snapshot_slot(p.slot);
    abi::store_state(p.slot, STATE_IOREQ_NONE);
    return true;
  }
  if (state == STATE_IOREQ_NONE) {
    violation(
        format("vCPU %u: server %u set the slot back to NONE without answering (Xen "
               "completes the access with all ones, as for a dying emulator)",
               v.index, unsigned{p.server}));
    return true;
  }
  if (state > STATE_IORESP_READY) {
    crashed_ = true;
    violation(format("domain crashed: weird ioreq state %u in vCPU %u's slot of server %u",
                     unsigned{state}, v.index, unsigned{p.server}));
    return true;
  }
  if (state < p.last_state) {
    crashed_ = true;
    violation(
        format("domain crashed: ioreq state moved backwards %s -> %s in vCPU %u's slot "
               "of server %u",
               state_name(p.last_state), state_name(state), v.index, unsigned{p.server}));
    return true;
  }
  p.done = false;  // READY -> INPROCESS: progress, keep waiting
  p.last_state = state;
  return false;
}

void SimHypervisor::report_hang(unsigned vcpu, const Pending& p) {
  const uint8_t state = abi::load_state(p.slot);
  std::string hint;
  {
    std::lock_guard lock(mutex_);
    auto it = remote_ports_.find(p.port);
    if (it == remote_ports_.end() || it->second.bound_by == nullptr) {
      hint = format("; port %u is not bound by the device model (bind every vCPU)", p.port);
    }
  }
  if (state == STATE_IORESP_READY) hint += "; the response was published but never notified";
  violation(format("vCPU %u hung: server %u did not answer a %s request within %lld ms (slot %s%s)",
                   vcpu, unsigned{p.server}, abi::type_name(p.response.type),
                   static_cast<long long>(config_.response_timeout.count()), state_name(state),
                   hint.c_str()));
}

}  // namespace vgpu::sim
