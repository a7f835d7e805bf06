// The compute backend the command queue drives: device memory and the
// operations on it (docs/queue.md "Compute backend"). The queue owns policy
// (handles, quota, bounds against allocations, chunking); a backend owns
// memory and executes. Every call maps onto one CUDA driver call, so a GPU
// backend can replace the CPU one without touching the queue:
//
//   alloc        cuMemAlloc (+ cuMemsetD32 0: ALLOC memory reads as zeros)
//   free         cuMemFree
//   copy_in      cuMemcpyHtoD(Async)
//   copy_out     cuMemcpyDtoH(Async)
//   fill         cuMemsetD32(Async)
//   copy         cuMemcpyDtoD(Async); overlapping ranges are staged
//   saxpy        a kernel launch
//   crc32c       a kernel launch and a 4-byte DtoH of its result
//   synchronize  cuStreamSynchronize
//
// Device addresses are offsets in the backend's own address space, like a
// CUdeviceptr. A call given a range outside device memory fails EFAULT and
// touches nothing: the queue checks every range first, the backend again.
//
// Thread-compatibility: one caller at a time (the queue serialises).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "vgpu/common/result.h"

namespace vgpu::compute {

using DevAddr = uint64_t;

class Backend {
 public:
  virtual ~Backend() = default;

  // Allocation granule: every allocation starts on one and is charged in
  // whole granules.
  virtual uint64_t granule() const = 0;

  // `bytes` of zeroed device memory. ENOMEM when it cannot be placed.
  virtual Result<DevAddr> alloc(uint64_t bytes) = 0;
  // Frees what alloc() returned; the memory goes back to the host.
  virtual Status free(DevAddr addr) = 0;
  // Restart (docs/spec.md §12): marks [addr, addr + bytes) allocated again,
  // exactly as an earlier alloc(bytes) returned it, without touching what it
  // holds. EINVAL when that extent is not wholly free or not aligned.
  virtual Status reserve(DevAddr addr, uint64_t bytes) = 0;

  virtual Status copy_in(DevAddr dst, std::span<const std::byte> src) = 0;
  virtual Status copy_out(std::span<std::byte> dst, DevAddr src) = 0;
  // `count` copies of the 32-bit little-endian `pattern` from `dst`.
  virtual Status fill(DevAddr dst, uint32_t pattern, uint64_t count) = 0;
  // Behaves as memmove: overlapping ranges are copied correctly.
  virtual Status copy(DevAddr dst, DevAddr src, uint64_t bytes) = 0;
  // y[i] = a * x[i] + y[i] for i < n, f32.
  virtual Status saxpy(DevAddr x, DevAddr y, uint64_t n, float a) = 0;
  // Extends CRC-32C `crc` (0 to start) over [src, src + bytes): long ranges
  // can be done in pieces.
  virtual Result<uint32_t> crc32c(DevAddr src, uint64_t bytes, uint32_t crc) = 0;
  // Waits for everything issued so far.
  virtual Status synchronize() = 0;
};

}  // namespace vgpu::compute
