// The real hypervisor: hv::Hypervisor over Xen 4.17's stable tool libraries
// (xendevicemodel, xenforeignmemory, xenevtchn, xenctrl).
//
// This header deliberately includes no Xen header: libxenctrl's headers need
// GNU extensions (anonymous unions, __align8__), so only src/xen compiles
// them, and the rest of the project stays ISO C++.
//
// Thread-compatibility: one XenHypervisor is used from one thread (xenevtchn
// requires one handle per thread).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "vgpu/common/result.h"
#include "vgpu/hv/hypervisor.h"

namespace vgpu::xen {

class XenHypervisor final : public hv::Hypervisor {
 public:
  // Where the Xen drivers live in Dom0 (privcmd, evtchn).
  static constexpr const char* kDefaultDevXen = "/dev/xen";

  // Opens every Xen handle for `domid`. Fails with ENOENT and a sentence
  // saying to run in Dom0 when /dev/xen is absent, and with EACCES/EPERM and
  // a sentence saying to run as root when a handle is refused.
  static Result<std::unique_ptr<XenHypervisor>> open(uint16_t domid);
  // Same, checking `dev_xen_path` instead of /dev/xen first (for tests: the
  // libraries themselves still open the real device nodes).
  static Result<std::unique_ptr<XenHypervisor>> open(uint16_t domid,
                                                     const std::string& dev_xen_path);

  ~XenHypervisor() override;
  XenHypervisor(const XenHypervisor&) = delete;
  XenHypervisor& operator=(const XenHypervisor&) = delete;

  uint16_t domid() const override;
  Result<hv::DomainInfo> domain_info() override;
  Result<unsigned> vcpu_count() override;

  // For the deprivileged worker, once the server is up: closes the
  // libxenctrl handle (it cannot be confined to one domain; domain_info()
  // fails with EPERM from now on) and confines every other Xen handle of the
  // process to this domain with xentoolcore_restrict_all(). Irreversible.
  Status restrict_to_domain();

  Result<hv::ServerId> create_ioreq_server() override;
  Status destroy_ioreq_server(hv::ServerId id) override;
  Result<ioreq_t*> map_ioreq_page(hv::ServerId id) override;
  void unmap_ioreq_page(ioreq_t* page) override;
  Status set_ioreq_server_enabled(hv::ServerId id, bool enabled) override;

  Status map_pcidev(hv::ServerId id, pci::Sbdf sbdf) override;
  Status unmap_pcidev(hv::ServerId id, pci::Sbdf sbdf) override;
  Status map_mmio_range(hv::ServerId id, hv::MmioRange range) override;
  Status unmap_mmio_range(hv::ServerId id, hv::MmioRange range) override;

  Status inject_msi(uint64_t address, uint32_t data) override;

  hv::EventChannels& event_channels() override;
  hv::GuestMemory& guest_memory() override;

 private:
  struct Impl;  // the Xen handles; defined where Xen's headers are included
  explicit XenHypervisor(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

// The supervisor's view of the guest: whether it exists, is HVM, is dying
// or suspended. One libxenctrl handle and nothing else.
class XenDomainProbe {
 public:
  static Result<std::unique_ptr<XenDomainProbe>> open(uint16_t domid);
  ~XenDomainProbe();
  XenDomainProbe(const XenDomainProbe&) = delete;
  XenDomainProbe& operator=(const XenDomainProbe&) = delete;

  Result<hv::DomainInfo> domain_info();

 private:
  struct Impl;
  explicit XenDomainProbe(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vgpu::xen
