// The simulated guest's RAM, as the daemon sees it through foreign mappings
// (hv::GuestMemory) and as the guest's own software sees it.
//
// RAM is a memfd. A daemon mapping is an mmap of the requested frames of that
// memfd at consecutive host pages, exactly like xenforeignmemory_map: two
// mappings of one frame alias, a frame outside RAM stays inaccessible and
// reports its own error, and a mapping outlives the domain. Every map and
// unmap call is counted, so tests and benchmarks can assert them exactly.
//
// Thread-safe: the daemon's threads and guest vCPU threads may use it at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "vgpu/hv/hypervisor.h"

namespace vgpu::sim {

class SimGuestMemory final : public hv::GuestMemory {
 public:
  // RAM at guest-physical 0. Pages the guest never touches cost nothing
  // (a fresh memfd is sparse and reads as zeros, like fresh guest RAM).
  explicit SimGuestMemory(uint64_t bytes);
  ~SimGuestMemory() override;
  SimGuestMemory(const SimGuestMemory&) = delete;
  SimGuestMemory& operator=(const SimGuestMemory&) = delete;

  // hv::GuestMemory, for the daemon. A frame beyond RAM fails EINVAL (Xen's
  // answer for a gfn with no page); ESRCH for the whole call once the domain
  // is gone. mark_dirty() records frames as Xen's log-dirty bitmap would.
  Result<std::byte*> map_frames(std::span<const uint64_t> gfns, std::span<int> errors) override;
  void unmap_frames(std::byte* addr, size_t frames) override;
  Status mark_dirty(std::span<const hv::DirtyExtent> extents) override;

  // The guest's own loads and stores: no dirty tracking (the guest's own
  // writes are tracked by the hardware, not by the device model).
  Status guest_read(uint64_t gpa, std::span<std::byte> out) const;
  Status guest_write(uint64_t gpa, std::span<const std::byte> in);
  // The guest's direct view of [gpa, gpa + len), for a simulated driver that
  // polls memory the device writes (use atomics on shared words); nullptr
  // outside RAM. Valid for the memory's lifetime.
  std::byte* guest_pointer(uint64_t gpa, uint64_t len) const;

  uint64_t size() const { return size_; }
  // Whether [gpa, gpa + len) lies wholly inside RAM. Lock-free and without
  // the error message guest_read() builds: for the hot path of device MMIO.
  bool contains(uint64_t gpa, uint64_t len) const { return gpa <= size_ && len <= size_ - gpa; }

  // Counters of the daemon's calls (successful or not), for exact assertions.
  uint64_t map_calls() const;
  uint64_t unmap_calls() const;
  uint64_t frames_mapped() const;  // live mappings, in frames
  size_t live_mappings() const;
  // Frames the daemon reported dirty since the last clear_dirty().
  std::vector<uint64_t> dirty_pfns() const;
  void clear_dirty();
  // Unmaps that named no live mapping, or the wrong frame count.
  std::vector<std::string> misuse() const;

  // Called when the domain is destroyed: later map calls fail ESRCH.
  void mark_domain_gone();

 private:
  Status check(uint64_t gpa, size_t len) const;
  void map_run(std::byte* at, uint64_t first_gfn, size_t count);

  mutable std::mutex mutex_;
  int fd_ = -1;
  std::byte* base_ = nullptr;  // the guest's own view; nullptr when size_ is 0
  const uint64_t size_;
  std::set<uint64_t> dirty_;
  std::map<std::byte*, size_t> mappings_;  // daemon mappings: address -> frames
  uint64_t map_calls_ = 0;
  uint64_t unmap_calls_ = 0;
  uint64_t frames_mapped_ = 0;
  std::vector<std::string> misuse_;
  bool gone_ = false;
};

}  // namespace vgpu::sim
