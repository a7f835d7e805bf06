// The CPU compute backend: device memory is a shared mapping of a file
// descriptor its owner provides (a memfd today), so that it could outlive
// this process and be mapped again by a restarted one; operations run
// synchronously on the calling thread.
//
// The address space is larger than the memory the queue lets a guest have
// (the quota is the queue's), so that first-fit placement practically never
// fails for fragmentation; untouched and freed pages cost nothing (a freed
// extent's pages are punched out of the file, and read as zeros again).
//
// Thread-compatible.
#pragma once

#include <memory>

#include "vgpu/compute/backend.h"
#include "vgpu/compute/extent_allocator.h"

namespace vgpu::compute {

class CpuBackend final : public Backend {
 public:
  static constexpr uint64_t kGranule = 4096;

  // Takes ownership of `fd` (a shmem or tmpfs file), sizes it to `space`
  // bytes (sparse) and maps it. EINVAL for a space of less than a granule.
  static Result<std::unique_ptr<CpuBackend>> create(int fd, uint64_t space);
  // The same over a new memfd.
  static Result<std::unique_ptr<CpuBackend>> create_memfd(uint64_t space);
  ~CpuBackend() override;
  CpuBackend(const CpuBackend&) = delete;
  CpuBackend& operator=(const CpuBackend&) = delete;

  uint64_t granule() const override { return kGranule; }
  Result<DevAddr> alloc(uint64_t bytes) override;
  Status free(DevAddr addr) override;
  Status reserve(DevAddr addr, uint64_t bytes) override;
  Status copy_in(DevAddr dst, std::span<const std::byte> src) override;
  Status copy_out(std::span<std::byte> dst, DevAddr src) override;
  Status fill(DevAddr dst, uint32_t pattern, uint64_t count) override;
  Status copy(DevAddr dst, DevAddr src, uint64_t bytes) override;
  Status saxpy(DevAddr x, DevAddr y, uint64_t n, float a) override;
  Result<uint32_t> crc32c(DevAddr src, uint64_t bytes, uint32_t crc) override;
  Status synchronize() override { return ok_status(); }

  int fd() const { return fd_; }
  uint64_t space() const { return space_; }
  size_t live_allocations() const { return allocator_.live(); }

 private:
  CpuBackend(int fd, std::byte* base, uint64_t space);
  // Host address of [addr, addr + len), or nullptr when outside the space.
  std::byte* at(DevAddr addr, uint64_t len) const;

  int fd_;
  std::byte* base_;
  uint64_t space_;
  ExtentAllocator allocator_;
};

}  // namespace vgpu::compute
