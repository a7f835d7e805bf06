// The vCPU half of Xen's synchronous ioreq protocol (pitfall 4 seen from the
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
  return ioreq::state_name(state);
}

}  // namespace

// Claims the vCPU for this thread; false if the access cannot happen at all.
bool SimHypervisor::vcpu_ok(unsigned vcpu, const char* what) {
  if (vcpu >= vcpus_.size()) {
    violation(
        format("guest used vCPU %u for %s, but the domain has %zu", vcpu, what, vcpus_.size()));
    return false;
  }
  if (vcpus_[vcpu]->busy.exchange(true)) {
    violation(format("two threads drove vCPU %u at once (%s)", vcpu, what));
    return false;
  }
  std::lock_guard lock(mutex_);
  if (exists_ && !crashed_ && !vcpus_[vcpu]->hung) return true;
  vcpus_[vcpu]->busy = false;  // a dead domain or stuck vCPU runs nothing
  return false;
}

ioreq_t SimHypervisor::run_requests(unsigned vcpu, ioreq_t req,
                                    const std::vector<hv::ServerId>& targets) {
  ioreq_t result = req;
  if (req.dir == IOREQ_READ) result.data = ~uint64_t{0};  // reads of nothing
  if (targets.empty() || !vcpu_ok(vcpu, ioreq::type_name(req.type))) return result;
  Vcpu& v = *vcpus_[vcpu];

  std::vector<Pending> pending;
  {
    std::lock_guard lock(mutex_);
    for (hv::ServerId id : targets) {
      const Server* s = server_locked(id);
      if (s == nullptr || !s->enabled) continue;  // went away meanwhile
      Pending p{id, s->page, s->page.get() + vcpu, s->ports[vcpu]};
      p.response = result;
      pending.push_back(std::move(p));
      v.waiting[id] = false;
    }
  }
  for (Pending& p : pending) p.done = !publish(v, p, req);
  wait_all(v, pending);
  {
    std::lock_guard lock(mutex_);
    v.waiting.clear();
  }
  v.busy = false;
  return pending.size() == 1 ? pending.front().response : result;
}

bool SimHypervisor::publish(Vcpu& v, Pending& p, const ioreq_t& req) {
  const uint8_t state = ioreq::load_state(p.slot);
  if (state != STATE_IOREQ_NONE) {
    crashed_ = true;
    violation(
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
  // that the server never sees READY before the fields.
  const auto flags = static_cast<uint8_t>((req.data_is_ptr & 1u) << 4 | (req.dir & 1u) << 5 |
                                          (req.df & 1u) << 6 | STATE_IOREQ_READY);
  __atomic_store_n(ioreq::state_byte(p.slot), flags, __ATOMIC_RELEASE);

  std::lock_guard lock(mutex_);
  auto it = remote_ports_.find(p.port);
  if (it != remote_ports_.end() && it->second.bound_by != nullptr) {
    it->second.bound_by->signal_locked(it->second.local);
  }  // else: like EVTCHNOP_send on an unbound port, the event is lost
  return true;
}

void SimHypervisor::wait_all(Vcpu& v, std::vector<Pending>& pending) {
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
  {
    std::lock_guard lock(mutex_);
    if (v.waiting[p.server]) return p.done = true;  // server destroyed: all ones
  }
  const uint8_t state = ioreq::load_state(p.slot);
  if (state == p.last_state && state != STATE_IORESP_READY) return false;  // spurious
  p.done = true;
  if (state == STATE_IORESP_READY) {
    p.response = snapshot_slot(p.slot);
    ioreq::store_state(p.slot, STATE_IOREQ_NONE);
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
  const uint8_t state = ioreq::load_state(p.slot);
  std::string hint;
  {
    std::lock_guard lock(mutex_);
    auto it = remote_ports_.find(p.port);
    if (it == remote_ports_.end() || it->second.bound_by == nullptr) {
      hint = format("; port %u is not bound by the device model (pitfall 3)", p.port);
    }
  }
  if (state == STATE_IORESP_READY) hint += "; the response was published but never notified";
  violation(format("vCPU %u hung: server %u did not answer a %s request within %lld ms (slot %s%s)",
                   vcpu, unsigned{p.server}, ioreq::type_name(p.response.type),
                   static_cast<long long>(config_.response_timeout.count()), state_name(state),
                   hint.c_str()));
}

}  // namespace vgpu::sim
