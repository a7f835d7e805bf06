#include "vgpu/xen/xen_hypervisor.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "domain_state.h"
#include "evtchn_irq_affinity.h"
#include "xen_event_channels.h"
#include "xen_guest_memory.h"
#include "xen_handles.h"

namespace vgpu::xen {

using namespace detail;

namespace {

// Releases one mapped ioreq resource while the foreignmemory handle is open.
struct ResourceUnmapper {
  xenforeignmemory_handle* fmem = nullptr;
  void operator()(xenforeignmemory_resource_handle* res) const {
    if (xenforeignmemory_unmap_resource(fmem, res) < 0) {
      spdlog::warn("xenforeignmemory_unmap_resource failed: {}", std::strerror(errno));
    }
  }
};
using ResourceMapping = std::unique_ptr<xenforeignmemory_resource_handle, ResourceUnmapper>;

Status check_dev_xen(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) return ok_status();
  if (errno == ENOENT) {
    return Error{ENOENT, path + " is absent: run this in Dom0 of a Xen host"};
  }
  return Error{errno, "cannot inspect " + path};
}

std::string range_args(hv::ServerId id, hv::MmioRange range) {
  return fmt::format("server {}, mmio {}-{}", id, hex(range.first), hex(range.last));
}

std::string pcidev_args(hv::ServerId id, pci::Sbdf sbdf) {
  return fmt::format("server {}, pci {}", id, sbdf.to_string());
}

}  // namespace

// The handles are acquired in declaration order and, being members, released
// in the reverse order. Everything borrowing a handle is declared after it.
struct XenHypervisor::Impl {
  Impl(uint16_t id, DevicemodelHandle dm, ForeignMemoryHandle fm, EvtchnHandle ev, XenctrlHandle xc)
      : domid(id),
        dmod(std::move(dm)),
        fmem(std::move(fm)),
        xce(std::move(ev)),
        xch(std::move(xc)),
        channels(xce.get(), domid),
        memory(fmem.get(), dmod.get(), domid) {}

  uint16_t domid;
  DevicemodelHandle dmod;
  ForeignMemoryHandle fmem;
  EvtchnHandle xce;
  XenctrlHandle xch;
  XenEventChannels channels;
  XenGuestMemory memory;
  // Mapped synchronous ioreq pages, by address; unmapped before fmem closes.
  std::map<ioreq_t*, ResourceMapping> ioreq_pages;
};

XenHypervisor::XenHypervisor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
XenHypervisor::~XenHypervisor() = default;

Result<std::unique_ptr<XenHypervisor>> XenHypervisor::open(uint16_t domid) {
  return open(domid, kDefaultDevXen);
}

Result<std::unique_ptr<XenHypervisor>> XenHypervisor::open(uint16_t domid,
                                                           const std::string& dev_xen_path) {
  if (auto st = check_dev_xen(dev_xen_path); !st) return st.error();
  // On an early return the handles already opened close in reverse order.
  auto dmod = open_devicemodel();
  if (!dmod) return dmod.error();
  auto fmem = open_foreignmemory();
  if (!fmem) return fmem.error();
  // Opened under a per-domain thread name, which names our ports' IRQs
  // (see evtchn_irq_affinity.h).
  auto xce = [&] {
    ScopedThreadName irq_name(irq_thread_name(domid));
    return open_evtchn();
  }();
  if (!xce) return xce.error();
  auto xch = open_xenctrl();
  if (!xch) return xch.error();
  auto impl = std::make_unique<Impl>(domid, std::move(dmod).value(), std::move(fmem).value(),
                                     std::move(xce).value(), std::move(xch).value());
  spdlog::debug("opened Xen handles for dom {}", domid);
  return std::unique_ptr<XenHypervisor>(new XenHypervisor(std::move(impl)));
}

uint16_t XenHypervisor::domid() const {
  return impl_->domid;
}

namespace {

Result<hv::DomainInfo> query_domain(xc_interface* xch, uint16_t domid) {
  xc_dominfo_t info{};
  // Xen 4.17's call enumerates from `domid` on: it returns the next domain
  // when ours does not exist, so the returned id must be checked.
  const int n = xc_domain_getinfo(xch, domid, 1, &info);
  if (n < 0) return call_error("xc_domain_getinfo", domid);
  if (n != 1 || info.domid != domid) return hv::DomainInfo{};
  hv::DomainInfo out =
      domain_state(info.hvm != 0, info.dying != 0, info.shutdown != 0, info.shutdown_reason);
  static_assert(sizeof info.handle == sizeof out.handle);
  std::memcpy(out.handle.data(), info.handle, sizeof info.handle);
  return out;
}

}  // namespace

Result<hv::DomainInfo> XenHypervisor::domain_info() {
  if (!impl_->xch) return Error{EPERM, "domain_info: the xenctrl handle was closed (restricted)"};
  return query_domain(impl_->xch.get(), impl_->domid);
}

Status XenHypervisor::restrict_to_domain() {
  // libxenctrl's handle cannot be restricted to one domain: close it.
  impl_->xch.reset();
  if (xentoolcore_restrict_all(impl_->domid) < 0)
    return call_error("xentoolcore_restrict_all", impl_->domid);
  spdlog::debug("dom {}: Xen handles restricted to this domain", impl_->domid);
  return ok_status();
}

struct XenDomainProbe::Impl {
  uint16_t domid;
  XenctrlHandle xch;
};

XenDomainProbe::XenDomainProbe(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
XenDomainProbe::~XenDomainProbe() = default;

Result<std::unique_ptr<XenDomainProbe>> XenDomainProbe::open(uint16_t domid) {
  if (auto st = check_dev_xen(XenHypervisor::kDefaultDevXen); !st) return st.error();
  auto xch = open_xenctrl();
  if (!xch) return xch.error();
  return std::unique_ptr<XenDomainProbe>(
      new XenDomainProbe(std::make_unique<Impl>(Impl{domid, std::move(xch).value()})));
}

Result<hv::DomainInfo> XenDomainProbe::domain_info() {
  return query_domain(impl_->xch.get(), impl_->domid);
}

Result<unsigned> XenHypervisor::vcpu_count() {
  unsigned vcpus = 0;
  if (xendevicemodel_nr_vcpus(impl_->dmod.get(), impl_->domid, &vcpus) < 0) {
    return call_error("nr_vcpus", impl_->domid);
  }
  return vcpus;
}

Result<hv::ServerId> XenHypervisor::create_ioreq_server() {
  ioservid_t id = 0;
  // Buffered ioreqs only carry stdvga VRAM writes and TIMEOFFSET, neither of
  // which this device sees.
  if (xendevicemodel_create_ioreq_server(impl_->dmod.get(), impl_->domid, HVM_IOREQSRV_BUFIOREQ_OFF,
                                         &id) < 0) {
    return call_error("create_ioreq_server", impl_->domid, "bufioreq off");
  }
  spdlog::debug("dom {}: created ioreq server {}", impl_->domid, id);
  return hv::ServerId{id};
}

Status XenHypervisor::destroy_ioreq_server(hv::ServerId id) {
  if (xendevicemodel_destroy_ioreq_server(impl_->dmod.get(), impl_->domid, id) < 0) {
    return call_error("destroy_ioreq_server", impl_->domid, fmt::format("server {}", id));
  }
  return ok_status();
}

Result<ioreq_t*> XenHypervisor::map_ioreq_page(hv::ServerId id) {
  void* addr = nullptr;
  // Frame 0 is the buffered page, frame 1 the synchronous one. The legacy
  // get_ioreq_server_info gfns must never be used alongside (Xen
  // answers EPERM).
  const unsigned long frame = XENMEM_resource_ioreq_server_frame_ioreq(0);
  xenforeignmemory_resource_handle* res =
      xenforeignmemory_map_resource(impl_->fmem.get(), impl_->domid, XENMEM_resource_ioreq_server,
                                    id, frame, 1, &addr, PROT_READ | PROT_WRITE, 0);
  if (!res) {
    return call_error("xenforeignmemory_map_resource", impl_->domid,
                      fmt::format("ioreq server {}, frame {}, 1 frame", id, frame));
  }
  auto* page = static_cast<ioreq_t*>(addr);
  impl_->ioreq_pages.insert_or_assign(page, ResourceMapping{res, {impl_->fmem.get()}});
  return page;
}

void XenHypervisor::unmap_ioreq_page(ioreq_t* page) {
  if (impl_->ioreq_pages.erase(page) == 0) {
    spdlog::warn("dom {}: unmap_ioreq_page({}) of a page this adapter did not map", impl_->domid,
                 static_cast<void*>(page));
  }
}

Status XenHypervisor::set_ioreq_server_enabled(hv::ServerId id, bool enabled) {
  if (xendevicemodel_set_ioreq_server_state(impl_->dmod.get(), impl_->domid, id, enabled ? 1 : 0) <
      0) {
    return call_error("set_ioreq_server_state", impl_->domid,
                      fmt::format("server {}, {}", id, enabled ? "enabled" : "disabled"));
  }
  return ok_status();
}

Status XenHypervisor::map_pcidev(hv::ServerId id, pci::Sbdf sbdf) {
  if (xendevicemodel_map_pcidev_to_ioreq_server(impl_->dmod.get(), impl_->domid, id, sbdf.segment,
                                                sbdf.bus, sbdf.device, sbdf.function) < 0) {
    return call_error("map_pcidev_to_ioreq_server", impl_->domid, pcidev_args(id, sbdf));
  }
  return ok_status();
}

Status XenHypervisor::unmap_pcidev(hv::ServerId id, pci::Sbdf sbdf) {
  if (xendevicemodel_unmap_pcidev_from_ioreq_server(impl_->dmod.get(), impl_->domid, id,
                                                    sbdf.segment, sbdf.bus, sbdf.device,
                                                    sbdf.function) < 0) {
    return call_error("unmap_pcidev_from_ioreq_server", impl_->domid, pcidev_args(id, sbdf));
  }
  return ok_status();
}

Status XenHypervisor::map_mmio_range(hv::ServerId id, hv::MmioRange range) {
  if (xendevicemodel_map_io_range_to_ioreq_server(impl_->dmod.get(), impl_->domid, id,
                                                  /*is_mmio=*/1, range.first, range.last) < 0) {
    return call_error("map_io_range_to_ioreq_server", impl_->domid, range_args(id, range));
  }
  return ok_status();
}

Status XenHypervisor::unmap_mmio_range(hv::ServerId id, hv::MmioRange range) {
  if (xendevicemodel_unmap_io_range_from_ioreq_server(impl_->dmod.get(), impl_->domid, id,
                                                      /*is_mmio=*/1, range.first, range.last) < 0) {
    return call_error("unmap_io_range_from_ioreq_server", impl_->domid, range_args(id, range));
  }
  return ok_status();
}

Status XenHypervisor::inject_msi(uint64_t address, uint32_t data) {
  if (xendevicemodel_inject_msi(impl_->dmod.get(), impl_->domid, address, data) < 0) {
    return call_error("inject_msi", impl_->domid,
                      fmt::format("address {}, data {}", hex(address), hex(data)));
  }
  return ok_status();
}

hv::EventChannels& XenHypervisor::event_channels() {
  return impl_->channels;
}
hv::GuestMemory& XenHypervisor::guest_memory() {
  return impl_->memory;
}

}  // namespace vgpu::xen
