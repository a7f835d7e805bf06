// One daemon process's view of a SimHypervisor: the same domain and
// hypervisor, but event channels of its own, as each process opens its own
// xenevtchn handle. Destroying it is what the kernel does when the process
// dies: its ends of the event channels close, which leaves Xen's ends
// unbound for the next process (the restart tests).
#pragma once

#include <memory>

#include "vgpu/sim/sim_hypervisor.h"

namespace vgpu::testing {

class SimProcess final : public hv::Hypervisor {
 public:
  explicit SimProcess(sim::SimHypervisor& hv) : hv_(hv), channels_(hv.open_event_channels()) {}

  uint16_t domid() const override { return hv_.domid(); }
  Result<hv::DomainInfo> domain_info() override { return hv_.domain_info(); }
  Result<unsigned> vcpu_count() override { return hv_.vcpu_count(); }
  Result<hv::ServerId> create_ioreq_server() override { return hv_.create_ioreq_server(); }
  Status destroy_ioreq_server(hv::ServerId id) override { return hv_.destroy_ioreq_server(id); }
  Result<ioreq_t*> map_ioreq_page(hv::ServerId id) override { return hv_.map_ioreq_page(id); }
  void unmap_ioreq_page(ioreq_t* page) override { hv_.unmap_ioreq_page(page); }
  Status set_ioreq_server_enabled(hv::ServerId id, bool on) override {
    return hv_.set_ioreq_server_enabled(id, on);
  }
  Status map_pcidev(hv::ServerId id, pci::Sbdf s) override { return hv_.map_pcidev(id, s); }
  Status unmap_pcidev(hv::ServerId id, pci::Sbdf s) override { return hv_.unmap_pcidev(id, s); }
  Status map_mmio_range(hv::ServerId id, hv::MmioRange r) override {
    return hv_.map_mmio_range(id, r);
  }
  Status unmap_mmio_range(hv::ServerId id, hv::MmioRange r) override {
    return hv_.unmap_mmio_range(id, r);
  }
  Status inject_msi(uint64_t address, uint32_t data) override {
    return hv_.inject_msi(address, data);
  }
  hv::EventChannels& event_channels() override { return *channels_; }
  hv::GuestMemory& guest_memory() override { return hv_.guest_memory(); }

 private:
  sim::SimHypervisor& hv_;
  std::unique_ptr<sim::SimEventChannels> channels_;
};

}  // namespace vgpu::testing
