// Definitions private to the simulator's translation units.
#pragma once

#include <unistd.h>

#include <array>
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

// A bound local port's eventfd. Shared, so that a vCPU thread which looked
// it up under the mutex can still write it after unlocking even if the
// daemon unbinds the port meanwhile: the fd number is never reused under it.
struct EventFd {
  explicit EventFd(int fd_) : fd(fd_) {}
  ~EventFd() { ::close(fd); }
  EventFd(const EventFd&) = delete;
  EventFd& operator=(const EventFd&) = delete;
  const int fd;
};

// Adds one to an eventfd's counter (a notification).
inline void signal_fd(int fd) {
  const uint64_t one = 1;
  (void)!::write(fd, &one, sizeof one);  // fails only on counter overflow
}

// Resets an eventfd's counter to zero (notifications coalesce).
inline void drain_fd(int fd) {
  uint64_t count = 0;
  (void)!::read(fd, &count, sizeof count);  // EAGAIN when already zero
}

struct SimHypervisor::Server {
  bool enabled = false;
  std::shared_ptr<ioreq_t> page;   // Xen's synchronous ioreq page
  std::vector<hv::Port> ports;     // guest-side port per vCPU
  std::vector<pci::Sbdf> pcidevs;  // XEN_DMOP_IO_RANGE_PCI claims
  // XEN_DMOP_IO_RANGE_MEMORY claims, sorted by first address (they never
  // overlap within a server), so routing walks them without sorting.
  std::vector<hv::MmioRange> mmio;
};

// Whether a vCPU waits on a server, per server id. An atomic rather than
// mutex-guarded state, so the vCPU looks at it on every wake-up for free.
enum WaitState : uint8_t {
  kNotWaiting,
  kWaiting,
  kReleased,  // the server was destroyed: complete with all ones
};

struct SimHypervisor::Vcpu {
  unsigned index = 0;
  int event_fd = -1;  // the vCPU's own notification fd (Xen blocks the vCPU)
  std::atomic<bool> busy{false};
  bool hung = false;                                        // guarded by the hypervisor's mutex_
  std::array<std::atomic<uint8_t>, kMaxServers> waiting{};  // WaitState per server id
};

struct SimHypervisor::Pending {
  hv::ServerId server = 0;
  std::shared_ptr<ioreq_t> page;
  ioreq_t* slot = nullptr;
  hv::Port port = 0;
  uint8_t last_state = STATE_IOREQ_READY;
  bool done = false;
  ioreq_t response{};
  std::shared_ptr<EventFd> wake;  // the server's port eventfd to signal after unlocking
};

inline uint64_t size_mask(unsigned size) {
  return size >= 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * size)) - 1;
}

// A copy of a slot the server has completed.
ioreq_t snapshot_slot(ioreq_t* slot);

// printf-style formatting into a std::string, for messages.
std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace vgpu::sim
