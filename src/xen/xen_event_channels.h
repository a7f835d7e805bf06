// hv::EventChannels over one xenevtchn handle (private to src/xen).
#pragma once

#include <optional>

#include "vgpu/hv/hypervisor.h"
#include "xen_handles.h"

namespace vgpu::xen::detail {

// Borrows the handle; XenHypervisor owns it and outlives this object.
class XenEventChannels final : public hv::EventChannels {
 public:
  XenEventChannels(xenevtchn_handle* xce, uint16_t domid) : xce_(xce), domid_(domid) {}

  int fd() const override;
  Result<hv::Port> bind(hv::Port remote_port) override;
  Status unbind(hv::Port local_port) override;
  Result<std::optional<hv::Port>> pending() override;
  Status unmask(hv::Port local_port) override;
  Status notify(hv::Port local_port) override;

 private:
  xenevtchn_handle* xce_;
  uint16_t domid_;
  // The CPU our event-channel IRQs and the serving thread were last put on.
  std::optional<unsigned> pinned_cpu_;
};

}  // namespace vgpu::xen::detail
