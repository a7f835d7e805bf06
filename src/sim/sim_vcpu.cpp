// SimHypervisor, guest side: Xen's routing of a vCPU's access to an ioreq
// server and the vCPU half of the ioreq protocol (Xen's ioreq_send and
// wait_for_io), with domain_crash replaced by a recorded violation.
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "sim_internal.h"
#include "vgpu/pci/regs.h"

namespace vgpu::sim {

namespace {

// The bytes a request touches; `df` makes rep accesses walk downwards.
std::pair<uint64_t, uint64_t> access_span(const ioreq_t& req) {
  const uint64_t count = req.count == 0 ? 1 : req.count;
  const uint64_t size = req.size == 0 ? 1 : req.size;
  if (req.df) return {req.addr - (count - 1) * size, req.addr + size - 1};
  return {req.addr, req.addr + count * size - 1};
}

// Whether [first, last] lies inside the union of `ranges`, sorted by first
// address (Xen keeps claims in a rangeset, which merges adjacent ranges).
bool covered(const std::vector<hv::MmioRange>& ranges, uint64_t first, uint64_t last) {
  uint64_t next = first;
  for (const auto& r : ranges) {
    if (r.first > next) break;
    if (r.last < next) continue;
    if (r.last >= last) return true;
    next = r.last + 1;
  }
  return false;
}

}  // namespace

// The slot as the server left it; byte 30 is read atomically because the
// server owns it until IORESP_READY.
ioreq_t snapshot_slot(ioreq_t* slot) {
  ioreq_t r{};
  r.addr = slot->addr;
  r.data = slot->data;
  r.count = slot->count;
  r.size = slot->size;
  r.vp_eport = slot->vp_eport;
  r.type = slot->type;
  const uint8_t flags = __atomic_load_n(abi::state_byte(slot), __ATOMIC_ACQUIRE);
  std::memcpy(reinterpret_cast<uint8_t*>(&r) + abi::kStateByteOffset, &flags, 1);
  return r;
}

namespace {

ioreq_t make_request(uint8_t type, uint64_t addr, unsigned size, bool read, uint64_t data) {
  ioreq_t req{};
  req.type = type;
  req.addr = addr;
  req.size = size;
  req.count = 1;
  req.dir = read ? IOREQ_READ : IOREQ_WRITE;
  req.data = read ? 0 : data & size_mask(size);
  return req;
}

// PCI_CONFIG request for a CFC-CFF access under `cf8`, formed as Xen does:
// segment 0, SBDF from CF8, offset (cf8 & 0xfc) | (port & 3).
ioreq_t config_request(uint32_t cf8, uint16_t port, unsigned size, bool read, uint32_t value) {
  const uint32_t packed = ((cf8 >> 16) & 0xff) << 8 | ((cf8 >> 11) & 0x1f) << 3 | ((cf8 >> 8) & 7);
  const uint32_t offset = (cf8 & 0xfc) | (port & 3u);
  return make_request(IOREQ_TYPE_PCI_CONFIG, abi::pci_config_addr(packed, offset), size, read,
                      value);
}

bool is_config_data_port(uint16_t port) {
  return (port & ~3u) == pci::kConfigDataPort;
}

}  // namespace

std::optional<hv::ServerId> SimHypervisor::select_locked(const ioreq_t& req) const {
  for (auto it = servers_.rbegin(); it != servers_.rend(); ++it) {  // highest id first, as Xen
    const Server& s = *it->second;
    if (!s.enabled) continue;
    if (req.type == IOREQ_TYPE_PCI_CONFIG) {
      const auto sbdf = pci::Sbdf::from_packed(abi::pci_config_sbdf(req.addr));
      if (std::find(s.pcidevs.begin(), s.pcidevs.end(), sbdf) != s.pcidevs.end()) return it->first;
    } else if (req.type == IOREQ_TYPE_COPY) {
      const auto [first, last] = access_span(req);
      if (first <= last && covered(s.mmio, first, last)) return it->first;
    }
  }
  return std::nullopt;
}

size_t SimHypervisor::targets_locked(const ioreq_t& req, Route route,
                                     std::array<hv::ServerId, kMaxServers>& out) const {
  size_t n = 0;
  if (route.kind == Route::kByXen) {
    if (auto id = select_locked(req)) out[n++] = *id;
  } else if (route.kind == Route::kToServer) {
    const Server* s = server_locked(route.server);
    if (s != nullptr && s->enabled) out[n++] = route.server;
  } else {
    for (const auto& [id, s] : servers_) {
      if (s->enabled) out[n++] = id;
    }
  }
  return n;
}

ioreq_t SimHypervisor::issue(unsigned vcpu, const ioreq_t& request,
                             std::optional<hv::ServerId> server) {
  return run_requests(vcpu, request,
                      server ? Route{Route::kToServer, *server} : Route{Route::kByXen});
}

void SimHypervisor::broadcast_invalidate(unsigned vcpu) {
  // Xen's mapcache invalidation: size 4, write, data ~0, count left 0.
  ioreq_t req{};
  req.type = IOREQ_TYPE_INVALIDATE;
  req.size = 4;
  req.dir = IOREQ_WRITE;
  req.data = ~uint64_t{0};
  (void)run_requests(vcpu, req, Route{Route::kAllEnabled});
}

uint32_t SimHypervisor::pio_read(unsigned vcpu, uint16_t port, unsigned size) {
  if (port == pci::kConfigAddressPort && size == 4) return cf8();
  if (is_config_data_port(port)) return config_port_read(vcpu, port, size);
  return static_cast<uint32_t>(size_mask(size));  // nobody decodes it
}

void SimHypervisor::pio_write(unsigned vcpu, uint16_t port, unsigned size, uint32_t value) {
  if (port == pci::kConfigAddressPort && size == 4) {
    cf8_ = value;  // Xen latches CF8 per domain
    return;
  }
  if (is_config_data_port(port)) config_port_write(vcpu, port, size, value);
}

uint32_t SimHypervisor::config_port_read(unsigned vcpu, uint16_t port, unsigned size) {
  const uint32_t cf8 = cf8_;
  if ((cf8 & pci::kConfigAddressEnable) == 0) return static_cast<uint32_t>(size_mask(size));
  const ioreq_t req = config_request(cf8, port, size, true, 0);
  return static_cast<uint32_t>(run_requests(vcpu, req, Route{}).data & size_mask(size));
}

void SimHypervisor::config_port_write(unsigned vcpu, uint16_t port, unsigned size, uint32_t value) {
  const uint32_t cf8 = cf8_;
  if ((cf8 & pci::kConfigAddressEnable) == 0) return;
  (void)run_requests(vcpu, config_request(cf8, port, size, false, value), Route{});
}

// An access inside RAM is checked with contains() first, so the common
// device access never pays for building guest_read()'s error message.
uint64_t SimHypervisor::mmio_read(unsigned vcpu, uint64_t gpa, unsigned size) {
  uint64_t value = 0;
  if (size <= sizeof value && memory_.contains(gpa, size) &&
      memory_.guest_read(gpa, std::as_writable_bytes(std::span(&value, 1)).first(size))) {
    return value;  // ordinary RAM: never reaches an ioreq server
  }
  const ioreq_t req = make_request(IOREQ_TYPE_COPY, gpa, size, true, 0);
  return issue(vcpu, req).data & size_mask(size);
}

void SimHypervisor::mmio_write(unsigned vcpu, uint64_t gpa, unsigned size, uint64_t value) {
  if (size <= sizeof value && memory_.contains(gpa, size) &&
      memory_.guest_write(gpa, std::as_bytes(std::span(&value, 1)).first(size))) {
    return;
  }
  (void)issue(vcpu, make_request(IOREQ_TYPE_COPY, gpa, size, false, value));
}

}  // namespace vgpu::sim
