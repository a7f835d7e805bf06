// The seam between the daemon and the hypervisor.
//
// Everything the ioreq server needs from Xen for one guest domain, and nothing
// more. Two implementations exist: xen::XenHypervisor (the real Xen 4.17
// libraries, the only code that includes them) and sim::SimHypervisor (an
// in-process hypervisor faithful to Xen's ioreq ABI, for tests and the demo).
// Device logic never sees this interface; the ioreq transport and the device
// host use it.
//
// Thread-compatibility: an implementation is used from the daemon's event
// loop thread only, unless it says otherwise.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "vgpu/abi/ioreq.h"
#include "vgpu/common/result.h"
#include "vgpu/pci/sbdf.h"

namespace vgpu::hv {

using ServerId = uint16_t;  // ioservid_t
using Port = uint32_t;      // evtchn_port_t

// A guest-physical range, both ends inclusive, as Xen's map_io_range takes it.
struct MmioRange {
  uint64_t first = 0;
  uint64_t last = 0;
  friend bool operator==(const MmioRange&, const MmioRange&) = default;
};

// Whether the target domain can host us (docs/spec.md §5: not there or not HVM
// is a command-line error).
struct DomainInfo {
  bool exists = false;
  bool hvm = false;
  bool dying = false;  // shutting down or being destroyed; not when suspended
  // Shut down for any reason but poweroff or suspend: a crash, or a reboot (which is how
  // Xen ends a guest's triple fault), or a watchdog.
  bool abnormal_shutdown = false;
  // Shut down with reason suspend: xl save (the domain is destroyed once
  // saved) or a checkpoint (xl save -c, xl migrate's last round, Remus),
  // after which the same domain resumes. Not an end: the device stays.
  bool suspended = false;
  // The domain's handle (its UUID, xc_dominfo_t.handle): domids are reused,
  // so a restarted daemon takes over only the domain its state was saved
  // for (docs/spec.md §12).
  std::array<uint8_t, 16> handle{};
};

// Event channels to the target domain, with xenevtchn's semantics: one
// pollable fd covers every bound port; a port returned by pending() stays
// masked until unmask(), so the loop is level-triggered.
class EventChannels {
 public:
  virtual ~EventChannels() = default;
  // Readable while some bound port is pending.
  virtual int fd() const = 0;
  // Binds a local port to `remote_port` in the target domain (the vp_eport
  // Xen wrote into a vCPU's ioreq slot).
  virtual Result<Port> bind(Port remote_port) = 0;
  virtual Status unbind(Port local_port) = 0;
  // One pending local port, or nullopt on a spurious wake-up.
  virtual Result<std::optional<Port>> pending() = 0;
  virtual Status unmask(Port local_port) = 0;
  virtual Status notify(Port local_port) = 0;
};

// A run of guest frames the device model wrote, for log-dirty tracking
// (Xen's xen_dm_op_modified_memory_extent).
struct DirtyExtent {
  uint64_t first_gfn = 0;
  uint64_t count = 0;
  friend bool operator==(const DirtyExtent&, const DirtyExtent&) = default;
};

// Guest memory as a device model reaches it: foreign mappings of the guest's
// frames. Device code never calls this directly; dma::MappingCache does, and
// caches what it maps (docs/queue.md "Mapping cache").
//
// Thread-compatibility: not thread-safe; the mapping cache serialises calls.
class GuestMemory {
 public:
  static constexpr uint64_t kPageSize = 4096;
  static constexpr unsigned kPageShift = 12;

  virtual ~GuestMemory() = default;
  // Maps `gfns` (any frames, in any order) read-write at consecutive host
  // pages, in one call: xenforeignmemory_map with a per-frame error array.
  // errors[i] becomes 0 or the errno frame i failed with; a failed frame is
  // not accessible at all (touching it faults). The whole call fails only
  // when nothing could be mapped. `errors` has gfns.size() elements.
  virtual Result<std::byte*> map_frames(std::span<const uint64_t> gfns, std::span<int> errors) = 0;
  // Releases a mapping map_frames() returned, with the same frame count.
  virtual void unmap_frames(std::byte* addr, size_t frames) = 0;
  // Tells the hypervisor the device wrote these frames, so that live
  // migration resends them (xendevicemodel_modified_memory_bulk).
  virtual Status mark_dirty(std::span<const DirtyExtent> extents) = 0;
};

// Device-model operations on one guest domain.
class Hypervisor {
 public:
  virtual ~Hypervisor() = default;

  virtual uint16_t domid() const = 0;
  virtual Result<DomainInfo> domain_info() = 0;
  // Every vCPU the domain may ever run, online or not: an unbound vCPU would hang on its first
  // access.
  virtual Result<unsigned> vcpu_count() = 0;

  // Creates a secondary ioreq server with buffered ioreqs off.
  virtual Result<ServerId> create_ioreq_server() = 0;
  virtual Status destroy_ioreq_server(ServerId id) = 0;
  // Maps the server's synchronous ioreq page (XENMEM_resource_ioreq_server
  // frame 1): one ioreq_t slot per vCPU. Valid until unmap_ioreq_page().
  virtual Result<ioreq_t*> map_ioreq_page(ServerId id) = 0;
  virtual void unmap_ioreq_page(ioreq_t* page) = 0;
  virtual Status set_ioreq_server_enabled(ServerId id, bool enabled) = 0;

  virtual Status map_pcidev(ServerId id, pci::Sbdf sbdf) = 0;
  virtual Status unmap_pcidev(ServerId id, pci::Sbdf sbdf) = 0;
  virtual Status map_mmio_range(ServerId id, MmioRange range) = 0;
  virtual Status unmap_mmio_range(ServerId id, MmioRange range) = 0;

  virtual Status inject_msi(uint64_t address, uint32_t data) = 0;

  virtual EventChannels& event_channels() = 0;
  virtual GuestMemory& guest_memory() = 0;
};

}  // namespace vgpu::hv
