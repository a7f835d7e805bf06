// Definitions private to the simulator's translation units.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "vgpu/sim/sim_hypervisor.h"

namespace vgpu::sim {

// Xen allocates the lowest free port in the domain; ports 1 and 2 are taken
// by xenstore and the console in a real guest. Dom0's local ports come from
// a disjoint range so that a daemon confusing local and remote ports fails.
inline constexpr hv::Port kFirstRemotePort = 3;
inline constexpr hv::Port kFirstLocalPort = 2048;

struct SimHypervisor::Server {
  bool enabled = false;
  std::shared_ptr<ioreq_t> page;    // Xen's synchronous ioreq page
  std::vector<hv::Port> ports;      // guest-side port per vCPU
  std::vector<pci::Sbdf> pcidevs;   // XEN_DMOP_IO_RANGE_PCI claims
  std::vector<hv::MmioRange> mmio;  // XEN_DMOP_IO_RANGE_MEMORY claims, as mapped
};

struct SimHypervisor::Vcpu {
  unsigned index = 0;
  int event_fd = -1;  // the vCPU's own notification fd (Xen blocks the vCPU)
  std::atomic<bool> busy{false};
  // Guarded by the hypervisor's mutex_.
  bool hung = false;
  std::map<hv::ServerId, bool> waiting;  // server -> released by destroy
};

struct SimHypervisor::Pending {
  hv::ServerId server = 0;
  std::shared_ptr<ioreq_t> page;
  ioreq_t* slot = nullptr;
  hv::Port port = 0;
  uint8_t last_state = STATE_IOREQ_READY;
  bool done = false;
  ioreq_t response{};
};

inline uint64_t size_mask(unsigned size) {
  return size >= 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * size)) - 1;
}

// A copy of a slot the server has completed.
ioreq_t snapshot_slot(ioreq_t* slot);

// printf-style formatting into a std::string, for messages.
std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace vgpu::sim
