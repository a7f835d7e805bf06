// SimHypervisor, daemon side: ioreq server lifecycle, claims and the call
// log, with Xen 4.17's ids and error codes (xen/common/ioreq.c).
#include "vgpu/sim/sim_hypervisor.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include "sim_internal.h"

namespace vgpu::sim {

std::string format(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}

namespace {

// A zeroed, page-aligned page, as Xen hands out for the resource mapping.
std::shared_ptr<ioreq_t> new_ioreq_page() {
  void* mem = std::aligned_alloc(abi::kPageSize, abi::kPageSize);
  if (mem == nullptr) throw std::bad_alloc();
  std::memset(mem, 0, abi::kPageSize);
  return std::shared_ptr<ioreq_t>(static_cast<ioreq_t*>(mem), [](ioreq_t* p) { std::free(p); });
}

bool overlaps(hv::MmioRange a, hv::MmioRange b) {
  return a.first <= b.last && b.first <= a.last;
}

}  // namespace

SimHypervisor::SimHypervisor(SimConfig config) : config_(config), memory_(config.ram_bytes) {
  if (config_.vcpus < 1 || config_.vcpus > abi::kMaxVcpus) {
    throw std::invalid_argument("SimConfig::vcpus must be 1..128 (one ioreq slot per vCPU)");
  }
  for (unsigned i = 0; i < config_.vcpus; ++i) {
    auto v = std::make_unique<Vcpu>();
    v->index = i;
    v->event_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (v->event_fd < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
    vcpus_.push_back(std::move(v));
  }
  default_channels_.reset(new SimEventChannels(*this));
}

SimHypervisor::~SimHypervisor() {
  default_channels_.reset();
  for (auto& v : vcpus_) ::close(v->event_fd);
}

std::unique_ptr<SimEventChannels> SimHypervisor::open_event_channels() {
  return std::unique_ptr<SimEventChannels>(new SimEventChannels(*this));
}

Status SimHypervisor::check_domain_locked() const {
  if (!exists_) return Error{ESRCH, format("domain %u does not exist", unsigned{config_.domid})};
  return ok_status();
}

Result<SimHypervisor::Server*> SimHypervisor::find_server_locked(hv::ServerId id) {
  if (Status s = check_domain_locked(); !s) return s.error();
  auto it = servers_.find(id);
  if (it == servers_.end()) return Error{ENOENT, format("no ioreq server %u", unsigned{id})};
  return it->second.get();
}

const SimHypervisor::Server* SimHypervisor::server_locked(hv::ServerId id) const {
  auto it = servers_.find(id);
  return it == servers_.end() ? nullptr : it->second.get();
}

Status SimHypervisor::record_locked(SimCall call, Status status) {
  call.error = status ? 0 : status.error().code;
  calls_.push_back(call);
  return status;
}

void SimHypervisor::violation(std::string text) {
  std::lock_guard lock(mutex_);
  violation_locked(std::move(text));
}

void SimHypervisor::violation_locked(std::string text) {
  violations_.push_back(std::move(text));
}

Result<hv::DomainInfo> SimHypervisor::domain_info() {
  std::lock_guard lock(mutex_);
  if (!exists_) return hv::DomainInfo{};
  hv::DomainInfo info{true, config_.hvm, dying_, abnormal_shutdown_, suspended_};
  info.handle = config_.handle;
  return info;
}

Result<unsigned> SimHypervisor::vcpu_count() {
  std::lock_guard lock(mutex_);
  if (Status s = check_domain_locked(); !s) return s.error();
  return config_.vcpus;
}

hv::Port SimHypervisor::alloc_remote_port_locked(hv::ServerId id, unsigned vcpu) {
  hv::Port port = kFirstRemotePort;
  while (remote_ports_.count(port) != 0) ++port;
  remote_ports_[port] = RemotePort{id, vcpu, nullptr, 0};
  return port;
}

hv::Port SimHypervisor::alloc_local_port_locked() {
  hv::Port port = kFirstLocalPort;
  while (local_owner_.count(port) != 0) ++port;
  return port;
}

// Xen takes the lowest free slot of MAX_NR_IOREQ_SERVERS and allocates the
// per-vCPU event channels now; vp_eport is published only on enable.
Result<hv::ServerId> SimHypervisor::create_ioreq_server() {
  std::lock_guard lock(mutex_);
  SimCall call{SimCallKind::kCreateServer};
  if (Status s = check_domain_locked(); !s) return record_locked(call, s).error();
  hv::ServerId id = 0;
  while (id < kMaxServers && servers_.count(id) != 0) ++id;
  if (id == kMaxServers) {
    return record_locked(call, Error{ENOSPC, "all 8 ioreq server slots in use"}).error();
  }
  auto server = std::make_unique<Server>();
  server->page = new_ioreq_page();
  for (unsigned v = 0; v < config_.vcpus; ++v) {
    server->ports.push_back(alloc_remote_port_locked(id, v));
  }
  servers_[id] = std::move(server);
  call.server = id;
  (void)record_locked(call, ok_status());
  return id;
}

// vCPUs blocked on this server are completed with all ones (Xen's answer
// when the emulator goes away with a request in flight).
void SimHypervisor::release_waiters_locked(hv::ServerId id) {
  for (auto& v : vcpus_) {
    // A vCPU that has just finished stores kNotWaiting without the mutex:
    // only a vCPU still waiting is released.
    uint8_t waiting = kWaiting;
    if (v->waiting[id].compare_exchange_strong(waiting, kReleased)) signal_fd(v->event_fd);
  }
}

void SimHypervisor::free_server_locked(hv::ServerId id) {
  release_waiters_locked(id);
  Server& s = *servers_.at(id);
  for (hv::Port port : s.ports) {
    RemotePort& rp = remote_ports_.at(port);
    if (rp.bound_by != nullptr) rp.bound_by->remote_closed_locked(rp.local);
    remote_ports_.erase(port);
  }
  servers_.erase(id);  // a daemon mapping keeps the page itself alive
}

Status SimHypervisor::destroy_ioreq_server(hv::ServerId id) {
  std::lock_guard lock(mutex_);
  SimCall call{SimCallKind::kDestroyServer, id};
  auto server = find_server_locked(id);
  if (!server) return record_locked(call, server.error());
  free_server_locked(id);
  return record_locked(call, ok_status());
}

Result<ioreq_t*> SimHypervisor::map_ioreq_page(hv::ServerId id) {
  std::lock_guard lock(mutex_);
  if (Status s = check_domain_locked(); !s) return s.error();
  auto it = servers_.find(id);
  if (it == servers_.end()) {
    return Error{EINVAL, format("map_resource: no ioreq server %u", unsigned{id})};
  }
  ioreq_t* page = it->second->page.get();
  Mapping& m = mapped_[page];
  m.page = it->second->page;
  ++m.count;
  return page;
}

void SimHypervisor::unmap_ioreq_page(ioreq_t* page) {
  std::unique_lock lock(mutex_);
  auto it = mapped_.find(page);
  if (it == mapped_.end()) {
    lock.unlock();
    violation(
        format("daemon unmapped %p, which is not a mapped ioreq page", static_cast<void*>(page)));
    return;
  }
  hv::ServerId owner = 0;
  for (const auto& [id, s] : servers_)
    if (s->page.get() == page) owner = id;
  record_transport_locked(SimCallKind::kUnmapPage, owner);
  if (--it->second.count == 0) mapped_.erase(it);
}

Status SimHypervisor::set_ioreq_server_enabled(hv::ServerId id, bool enabled) {
  std::lock_guard lock(mutex_);
  SimCall call{enabled ? SimCallKind::kEnableServer : SimCallKind::kDisableServer, id};
  auto server = find_server_locked(id);
  if (!server) return record_locked(call, server.error());
  Server& s = **server;
  if (enabled && !s.enabled) {
    // The ports exist since creation, but each slot's vp_eport
    // is filled only now.
    for (unsigned v = 0; v < config_.vcpus; ++v) s.page.get()[v].vp_eport = s.ports[v];
  }
  s.enabled = enabled;
  return record_locked(call, ok_status());
}

Status SimHypervisor::map_pcidev(hv::ServerId id, pci::Sbdf sbdf) {
  std::lock_guard lock(mutex_);
  SimCall call{SimCallKind::kMapPcidev, id, sbdf};
  auto server = find_server_locked(id);
  if (!server) return record_locked(call, server.error());
  auto& devs = (*server)->pcidevs;
  if (std::find(devs.begin(), devs.end(), sbdf) != devs.end()) {
    return record_locked(call, Error{EEXIST, sbdf.to_string() + " already mapped"});
  }
  devs.push_back(sbdf);
  return record_locked(call, ok_status());
}

Status SimHypervisor::unmap_pcidev(hv::ServerId id, pci::Sbdf sbdf) {
  std::lock_guard lock(mutex_);
  SimCall call{SimCallKind::kUnmapPcidev, id, sbdf};
  auto server = find_server_locked(id);
  if (!server) return record_locked(call, server.error());
  auto& devs = (*server)->pcidevs;
  auto it = std::find(devs.begin(), devs.end(), sbdf);
  if (it == devs.end()) return record_locked(call, Error{ENOENT, sbdf.to_string() + " not mapped"});
  devs.erase(it);
  return record_locked(call, ok_status());
}

// Overlap is checked against this server's ranges only: two servers may
// claim the same range, and routing prefers the higher id.
// Kept sorted, so routing needs no copy or sort per access.
Status SimHypervisor::map_range_locked(Server& s, hv::MmioRange range) {
  for (const auto& r : s.mmio) {
    if (overlaps(r, range)) return Error{EEXIST, "mmio range overlaps one already mapped"};
  }
  auto at = std::lower_bound(
      s.mmio.begin(), s.mmio.end(), range,
      [](const hv::MmioRange& a, const hv::MmioRange& b) { return a.first < b.first; });
  s.mmio.insert(at, range);
  return ok_status();
}

// Stricter than Xen, which accepts any sub-range of what is mapped and
// splits it: here only a range exactly as mapped may be unmapped,
// so a daemon that leaves part of a claim behind is caught.
Status SimHypervisor::unmap_range_locked(Server& s, hv::MmioRange range) {
  auto it = std::find(s.mmio.begin(), s.mmio.end(), range);
  if (it == s.mmio.end()) return Error{ENOENT, "mmio range not mapped exactly so"};
  s.mmio.erase(it);
  return ok_status();
}

Status SimHypervisor::map_mmio_range(hv::ServerId id, hv::MmioRange range) {
  std::lock_guard lock(mutex_);
  SimCall call{SimCallKind::kMapMmio, id, {}, range};
  if (range.first > range.last) return record_locked(call, Error{EINVAL, "first > last"});
  auto server = find_server_locked(id);
  if (!server) return record_locked(call, server.error());
  return record_locked(call, map_range_locked(**server, range));
}

Status SimHypervisor::unmap_mmio_range(hv::ServerId id, hv::MmioRange range) {
  std::lock_guard lock(mutex_);
  SimCall call{SimCallKind::kUnmapMmio, id, {}, range};
  if (range.first > range.last) return record_locked(call, Error{EINVAL, "first > last"});
  auto server = find_server_locked(id);
  if (!server) return record_locked(call, server.error());
  return record_locked(call, unmap_range_locked(**server, range));
}

Status SimHypervisor::inject_msi(uint64_t address, uint32_t data) {
  std::lock_guard lock(mutex_);
  SimCall call{SimCallKind::kInjectMsi};
  call.msi_address = address;
  call.msi_data = data;
  Status status = check_domain_locked();
  if (status && msi_error_ != 0)
    status = Error{msi_error_, "inject_msi (failure injected by a test)"};
  return record_locked(call, status);
}

void SimHypervisor::fail_msi_injection(int error) {
  std::lock_guard lock(mutex_);
  msi_error_ = error;
}

void SimHypervisor::destroy_domain() {
  std::lock_guard lock(mutex_);
  while (!servers_.empty()) free_server_locked(servers_.begin()->first);
  exists_ = false;
  memory_.mark_domain_gone();
}

void SimHypervisor::set_dying(bool dying) {
  std::lock_guard lock(mutex_);
  dying_ = dying;
}

void SimHypervisor::suspend() {
  std::lock_guard lock(mutex_);
  suspended_ = true;
}

void SimHypervisor::resume() {
  std::lock_guard lock(mutex_);
  suspended_ = false;
}

void SimHypervisor::shut_down(bool abnormal) {
  std::lock_guard lock(mutex_);
  dying_ = true;
  abnormal_shutdown_ = abnormal;
}

}  // namespace vgpu::sim
