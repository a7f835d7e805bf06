// The simulated guest's RAM, as the daemon sees it through a foreign mapping
// (hv::GuestMemory) and as the guest's own software sees it.
//
// Thread-safe: the daemon thread and guest vCPU threads may use it at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <set>
#include <span>
#include <vector>

#include "vgpu/hv/hypervisor.h"

namespace vgpu::sim {

class SimGuestMemory final : public hv::GuestMemory {
 public:
  static constexpr uint64_t kPageSize = 4096;

  // RAM is an anonymous private mapping reserving no swap: pages the guest
  // never touches are never resident, so a 16 MiB guest costs the --simulate
  // process only what it uses (read as zeros, like fresh guest RAM).
  explicit SimGuestMemory(uint64_t bytes);
  ~SimGuestMemory() override;
  SimGuestMemory(const SimGuestMemory&) = delete;
  SimGuestMemory& operator=(const SimGuestMemory&) = delete;

  // hv::GuestMemory, for the daemon: EFAULT outside RAM, ESRCH once the
  // domain is gone. write() records the pages it touches as dirty, as Xen's
  // log-dirty mode would for a foreign mapping.
  Status read(uint64_t gpa, std::span<std::byte> out) override;
  Status write(uint64_t gpa, std::span<const std::byte> in) override;

  // The guest's own loads and stores: no dirty tracking (the guest's own
  // writes are tracked by the hardware, not by the device model).
  Status guest_read(uint64_t gpa, std::span<std::byte> out) const;
  Status guest_write(uint64_t gpa, std::span<const std::byte> in);

  uint64_t size() const { return size_; }
  // Whether [gpa, gpa + len) lies wholly inside RAM. Lock-free and without
  // the error message guest_read() builds: for the hot path of device MMIO.
  bool contains(uint64_t gpa, uint64_t len) const { return gpa <= size_ && len <= size_ - gpa; }
  // How many daemon writes succeeded, and which page frames they dirtied.
  uint64_t write_count() const;
  std::vector<uint64_t> dirty_pfns() const;
  void clear_dirty();

  // Called when the domain is destroyed: later daemon accesses fail ESRCH.
  void mark_domain_gone();

 private:
  Status check(uint64_t gpa, size_t len) const;

  mutable std::mutex mutex_;
  std::byte* base_ = nullptr;  // nullptr when size_ is 0
  const uint64_t size_;
  std::set<uint64_t> dirty_;
  uint64_t writes_ = 0;
  bool gone_ = false;
};

}  // namespace vgpu::sim
