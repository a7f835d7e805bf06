#include "xen_event_channels.h"

#include <fmt/format.h>

#include <cerrno>

#include "evtchn_irq_affinity.h"
#include "vgpu/common/study_arm.h"

namespace vgpu::xen::detail {

int XenEventChannels::fd() const {
  return xenevtchn_fd(xce_);
}

Result<hv::Port> XenEventChannels::bind(hv::Port remote_port) {
  const xenevtchn_port_or_error_t local = xenevtchn_bind_interdomain(xce_, domid_, remote_port);
  if (local < 0) {
    return call_error("xenevtchn_bind_interdomain", domid_,
                      fmt::format("remote port {}", remote_port));
  }
  // The new port's IRQ joins the others on the serving thread's CPU.
  if (!study::is(study::Arm::kNoPin)) pinned_cpu_ = colocate_with_event_irqs(domid_, pinned_cpu_);
  return static_cast<hv::Port>(local);
}

Status XenEventChannels::unbind(hv::Port local_port) {
  if (xenevtchn_unbind(xce_, local_port) < 0) {
    return call_error("xenevtchn_unbind", domid_, fmt::format("local port {}", local_port));
  }
  return ok_status();
}

Result<std::optional<hv::Port>> XenEventChannels::pending() {
  const xenevtchn_port_or_error_t port = xenevtchn_pending(xce_);
  if (port >= 0) return std::optional<hv::Port>{static_cast<hv::Port>(port)};
  // The fd was readable but another read drained it first: a spurious
  // wake-up, not an error (the loop polls level-triggered).
  if (errno == EAGAIN || errno == EWOULDBLOCK) return std::optional<hv::Port>{};
  return call_error("xenevtchn_pending", domid_);
}

Status XenEventChannels::unmask(hv::Port local_port) {
  if (xenevtchn_unmask(xce_, local_port) < 0) {
    return call_error("xenevtchn_unmask", domid_, fmt::format("local port {}", local_port));
  }
  return ok_status();
}

Status XenEventChannels::notify(hv::Port local_port) {
  if (xenevtchn_notify(xce_, local_port) < 0) {
    return call_error("xenevtchn_notify", domid_, fmt::format("local port {}", local_port));
  }
  return ok_status();
}

}  // namespace vgpu::xen::detail
