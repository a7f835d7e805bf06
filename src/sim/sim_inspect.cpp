// SimHypervisor: the call log, violations and the read-only views tests use.
#include <algorithm>
#include <cstring>

#include "sim_internal.h"

namespace vgpu::sim {

const char* to_string(SimCallKind kind) {
  switch (kind) {
    case SimCallKind::kCreateServer:
      return "create_server";
    case SimCallKind::kDestroyServer:
      return "destroy_server";
    case SimCallKind::kEnableServer:
      return "enable_server";
    case SimCallKind::kDisableServer:
      return "disable_server";
    case SimCallKind::kMapPcidev:
      return "map_pcidev";
    case SimCallKind::kUnmapPcidev:
      return "unmap_pcidev";
    case SimCallKind::kMapMmio:
      return "map_mmio";
    case SimCallKind::kUnmapMmio:
      return "unmap_mmio";
    case SimCallKind::kInjectMsi:
      return "inject_msi";
    case SimCallKind::kNotify:
      return "notify";
    case SimCallKind::kUnbindPort:
      return "unbind_port";
    case SimCallKind::kUnmapPage:
      return "unmap_ioreq_page";
  }
  return "?";
}

std::string SimCall::to_string() const {
  std::string text = sim::to_string(kind);
  switch (kind) {
    case SimCallKind::kMapPcidev:
    case SimCallKind::kUnmapPcidev:
      text += format("(server %u, %s)", unsigned{server}, sbdf.to_string().c_str());
      break;
    case SimCallKind::kMapMmio:
    case SimCallKind::kUnmapMmio:
      text += format("(server %u, [%#llx, %#llx])", unsigned{server},
                     static_cast<unsigned long long>(range.first),
                     static_cast<unsigned long long>(range.last));
      break;
    case SimCallKind::kInjectMsi:
      text +=
          format("(addr %#llx, data %#x)", static_cast<unsigned long long>(msi_address), msi_data);
      break;
    default:
      text += format("(server %u)", unsigned{server});
      break;
  }
  if (error != 0) text += format(" -> %s", strerrorname_np(error));
  return text;
}

std::vector<SimCall> SimHypervisor::calls() const {
  std::lock_guard lock(mutex_);
  return calls_;
}

void SimHypervisor::clear_calls() {
  std::lock_guard lock(mutex_);
  calls_.clear();
}

void SimHypervisor::record_transport(bool on) {
  std::lock_guard lock(mutex_);
  record_transport_ = on;
}

void SimHypervisor::record_transport_locked(SimCallKind kind, hv::ServerId server) {
  if (record_transport_) calls_.push_back(SimCall{kind, server});
}

std::vector<std::string> SimHypervisor::violations() const {
  std::lock_guard lock(mutex_);
  return violations_;
}

void SimHypervisor::clear_violations() {
  std::lock_guard lock(mutex_);
  violations_.clear();
}

std::vector<hv::ServerId> SimHypervisor::servers() const {
  std::lock_guard lock(mutex_);
  std::vector<hv::ServerId> ids;
  for (const auto& [id, server] : servers_) ids.push_back(id);
  return ids;
}

bool SimHypervisor::server_enabled(hv::ServerId id) const {
  std::lock_guard lock(mutex_);
  const Server* s = server_locked(id);
  return s != nullptr && s->enabled;
}

std::vector<pci::Sbdf> SimHypervisor::pcidevs(hv::ServerId id) const {
  std::lock_guard lock(mutex_);
  const Server* s = server_locked(id);
  return s ? s->pcidevs : std::vector<pci::Sbdf>{};
}

std::vector<hv::MmioRange> SimHypervisor::mmio_ranges(hv::ServerId id) const {
  std::lock_guard lock(mutex_);
  const Server* s = server_locked(id);
  return s ? s->mmio : std::vector<hv::MmioRange>{};
}

std::optional<hv::ServerId> SimHypervisor::route_pcidev(pci::Sbdf sbdf) const {
  ioreq_t req{};
  req.type = IOREQ_TYPE_PCI_CONFIG;
  req.addr = abi::pci_config_addr(sbdf.packed(), 0);
  req.size = 4;
  req.count = 1;
  std::lock_guard lock(mutex_);
  return select_locked(req);
}

std::optional<hv::ServerId> SimHypervisor::route_mmio(uint64_t first, uint64_t last) const {
  if (first > last) return std::nullopt;
  ioreq_t req{};
  req.type = IOREQ_TYPE_COPY;
  req.addr = first;
  req.size = 1;
  req.count = static_cast<uint32_t>(std::min<uint64_t>(last - first + 1, UINT32_MAX));
  std::lock_guard lock(mutex_);
  return select_locked(req);
}

size_t SimHypervisor::mapped_pages() const {
  std::lock_guard lock(mutex_);
  return mapped_.size();
}

size_t SimHypervisor::bound_ports() const {
  std::lock_guard lock(mutex_);
  return local_owner_.size();
}

uint32_t SimHypervisor::cf8() const {
  return cf8_;
}

}  // namespace vgpu::sim
