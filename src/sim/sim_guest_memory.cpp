#include "vgpu/sim/sim_guest_memory.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>

namespace vgpu::sim {

SimGuestMemory::SimGuestMemory(uint64_t bytes) : size_(bytes) {
  if (size_ == 0) return;
  void* mem = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) {
    throw std::system_error(errno, std::generic_category(), "mmap of simulated guest RAM");
  }
  base_ = static_cast<std::byte*>(mem);
}

SimGuestMemory::~SimGuestMemory() {
  if (base_ != nullptr) ::munmap(base_, size_);
}

// Caller holds mutex_. An access must lie wholly inside RAM; the sum is
// checked for overflow so that a huge gpa cannot wrap into range.
Status SimGuestMemory::check(uint64_t gpa, size_t len) const {
  if (gone_) return Error{ESRCH, "guest memory: domain no longer exists"};
  if (!contains(gpa, len)) {
    char msg[96];
    std::snprintf(msg, sizeof msg, "guest memory: %zu bytes at gpa 0x%llx lie outside guest RAM",
                  len, static_cast<unsigned long long>(gpa));
    return Error{EFAULT, msg};
  }
  return ok_status();
}

Status SimGuestMemory::read(uint64_t gpa, std::span<std::byte> out) {
  return guest_read(gpa, out);
}

Status SimGuestMemory::write(uint64_t gpa, std::span<const std::byte> in) {
  std::lock_guard lock(mutex_);
  if (Status s = check(gpa, in.size()); !s) return s;
  if (in.empty()) return ok_status();
  std::memcpy(base_ + gpa, in.data(), in.size());
  for (uint64_t pfn = gpa / kPageSize; pfn <= (gpa + in.size() - 1) / kPageSize; ++pfn) {
    dirty_.insert(pfn);
  }
  ++writes_;
  return ok_status();
}

Status SimGuestMemory::guest_read(uint64_t gpa, std::span<std::byte> out) const {
  std::lock_guard lock(mutex_);
  if (Status s = check(gpa, out.size()); !s) return s;
  if (!out.empty()) std::memcpy(out.data(), base_ + gpa, out.size());
  return ok_status();
}

Status SimGuestMemory::guest_write(uint64_t gpa, std::span<const std::byte> in) {
  std::lock_guard lock(mutex_);
  if (Status s = check(gpa, in.size()); !s) return s;
  if (!in.empty()) std::memcpy(base_ + gpa, in.data(), in.size());
  return ok_status();
}

uint64_t SimGuestMemory::write_count() const {
  std::lock_guard lock(mutex_);
  return writes_;
}

std::vector<uint64_t> SimGuestMemory::dirty_pfns() const {
  std::lock_guard lock(mutex_);
  return {dirty_.begin(), dirty_.end()};
}

void SimGuestMemory::clear_dirty() {
  std::lock_guard lock(mutex_);
  dirty_.clear();
  writes_ = 0;
}

void SimGuestMemory::mark_domain_gone() {
  std::lock_guard lock(mutex_);
  gone_ = true;
}

}  // namespace vgpu::sim
