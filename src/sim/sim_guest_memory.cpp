#include "vgpu/sim/sim_guest_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>

namespace vgpu::sim {

namespace {

constexpr uint64_t kPage = hv::GuestMemory::kPageSize;

[[noreturn]] void fail(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

SimGuestMemory::SimGuestMemory(uint64_t bytes) : size_(bytes) {
  fd_ = ::memfd_create("vgpu-sim-guest-ram", MFD_CLOEXEC);
  if (fd_ < 0) fail("memfd_create for simulated guest RAM");
  if (size_ == 0) return;
  if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) fail("sizing simulated guest RAM");
  void* mem = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (mem == MAP_FAILED) fail("mmap of simulated guest RAM");
  base_ = static_cast<std::byte*>(mem);
}

SimGuestMemory::~SimGuestMemory() {
  for (const auto& [addr, frames] : mappings_) ::munmap(addr, frames * kPage);
  if (base_ != nullptr) ::munmap(base_, size_);
  ::close(fd_);
}

// An access must lie wholly inside RAM; the sum is
// checked for overflow so that a huge gpa cannot wrap into range.
Status SimGuestMemory::check(uint64_t gpa, size_t len) const {
  if (!contains(gpa, len)) {
    char msg[96];
    std::snprintf(msg, sizeof msg, "guest memory: %zu bytes at gpa 0x%llx lie outside guest RAM",
                  len, static_cast<unsigned long long>(gpa));
    return Error{EFAULT, msg};
  }
  return ok_status();
}

// Places frames [first_gfn, first_gfn + count) of RAM at `at`, over the
// reservation, with the page tables filled in as privcmd does at map time.
void SimGuestMemory::map_run(std::byte* at, uint64_t first_gfn, size_t count) {
  void* p = ::mmap(at, count * kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_POPULATE,
                   fd_, static_cast<off_t>(first_gfn * kPage));
  if (p == MAP_FAILED) fail("mmap of simulated guest frames");
}

Result<std::byte*> SimGuestMemory::map_frames(std::span<const uint64_t> gfns,
                                              std::span<int> errors) {
  std::lock_guard lock(mutex_);
  ++map_calls_;
  if (gone_) return Error{ESRCH, "map_frames: the domain no longer exists"};
  if (gfns.empty() || errors.size() != gfns.size()) return Error{EINVAL, "map_frames: bad arrays"};
  // Reserve the whole window inaccessible, then map each run of
  // consecutive valid frames over it: a failed frame stays PROT_NONE.
  void* res = ::mmap(nullptr, gfns.size() * kPage, PROT_NONE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (res == MAP_FAILED) return errno_error("map_frames: reserving address space");
  auto* base = static_cast<std::byte*>(res);
  size_t mapped = 0;
  for (size_t i = 0; i < gfns.size();) {
    if (gfns[i] >= size_ / kPage) {
      errors[i++] = EINVAL;
      continue;
    }
    size_t n = 1;
    while (i + n < gfns.size() && gfns[i + n] == gfns[i] + n && gfns[i + n] < size_ / kPage) ++n;
    map_run(base + i * kPage, gfns[i], n);
    for (size_t k = 0; k < n; ++k) errors[i + k] = 0;
    mapped += n;
    i += n;
  }
  if (mapped == 0) {
    ::munmap(base, gfns.size() * kPage);
    return Error{EINVAL, "map_frames: no frame lies inside guest RAM"};
  }
  mappings_[base] = gfns.size();
  frames_mapped_ += gfns.size();
  return base;
}

void SimGuestMemory::unmap_frames(std::byte* addr, size_t frames) {
  std::lock_guard lock(mutex_);
  ++unmap_calls_;
  auto it = mappings_.find(addr);
  if (it == mappings_.end() || it->second != frames) {
    char msg[128];
    std::snprintf(msg, sizeof msg, "unmap_frames(%p, %zu) names no live mapping of that size",
                  static_cast<void*>(addr), frames);
    misuse_.emplace_back(msg);
    return;
  }
  ::munmap(addr, frames * kPage);
  frames_mapped_ -= frames;
  mappings_.erase(it);
}

Status SimGuestMemory::mark_dirty(std::span<const hv::DirtyExtent> extents) {
  std::lock_guard lock(mutex_);
  if (gone_) return Error{ESRCH, "mark_dirty: the domain no longer exists"};
  for (const hv::DirtyExtent& e : extents) {
    if (e.first_gfn >= size_ / kPage || e.count > size_ / kPage - e.first_gfn)
      return Error{EINVAL, "mark_dirty: extent outside guest RAM"};
    for (uint64_t k = 0; k < e.count; ++k) dirty_.insert(e.first_gfn + k);
  }
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

std::byte* SimGuestMemory::guest_pointer(uint64_t gpa, uint64_t len) const {
  return contains(gpa, len) && base_ != nullptr ? base_ + gpa : nullptr;
}

uint64_t SimGuestMemory::map_calls() const {
  std::lock_guard lock(mutex_);
  return map_calls_;
}

uint64_t SimGuestMemory::unmap_calls() const {
  std::lock_guard lock(mutex_);
  return unmap_calls_;
}

uint64_t SimGuestMemory::frames_mapped() const {
  std::lock_guard lock(mutex_);
  return frames_mapped_;
}

size_t SimGuestMemory::live_mappings() const {
  std::lock_guard lock(mutex_);
  return mappings_.size();
}

std::vector<uint64_t> SimGuestMemory::dirty_pfns() const {
  std::lock_guard lock(mutex_);
  return {dirty_.begin(), dirty_.end()};
}

void SimGuestMemory::clear_dirty() {
  std::lock_guard lock(mutex_);
  dirty_.clear();
}

std::vector<std::string> SimGuestMemory::misuse() const {
  std::lock_guard lock(mutex_);
  return misuse_;
}

void SimGuestMemory::mark_domain_gone() {
  std::lock_guard lock(mutex_);
  gone_ = true;
}

}  // namespace vgpu::sim
