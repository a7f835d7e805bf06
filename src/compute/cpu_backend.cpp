#include "vgpu/compute/cpu_backend.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string>

#include "vgpu/compute/crc32c.h"

namespace vgpu::compute {

namespace {

constexpr size_t kFillBlock = 4096;  // bytes of pattern copied at a time
constexpr size_t kPatternBytes = 4;

Error outside(const char* what) {
  return Error{EFAULT, std::string(what) + ": range outside device memory"};
}

}  // namespace

Result<std::unique_ptr<CpuBackend>> CpuBackend::create(int fd, uint64_t space) {
  if (space < kGranule) {
    ::close(fd);
    return Error{EINVAL, "device memory space below one granule"};
  }
  space = space / kGranule * kGranule;
  if (::ftruncate(fd, static_cast<off_t>(space)) != 0) {
    Error e = errno_error("sizing device memory");
    ::close(fd);
    return e;
  }
  void* p = ::mmap(nullptr, space, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
  if (p == MAP_FAILED) {
    Error e = errno_error("mapping device memory");
    ::close(fd);
    return e;
  }
  return std::unique_ptr<CpuBackend>(new CpuBackend(fd, static_cast<std::byte*>(p), space));
}

Result<std::unique_ptr<CpuBackend>> CpuBackend::create_memfd(uint64_t space) {
  const int fd = ::memfd_create("vgpu-device-memory", MFD_CLOEXEC);
  if (fd < 0) return errno_error("memfd_create for device memory");
  return create(fd, space);
}

CpuBackend::CpuBackend(int fd, std::byte* base, uint64_t space)
    : fd_(fd), base_(base), space_(space), allocator_(space, kGranule) {}

CpuBackend::~CpuBackend() {
  ::munmap(base_, space_);
  ::close(fd_);
}

std::byte* CpuBackend::at(DevAddr addr, uint64_t len) const {
  if (addr > space_ || len > space_ - addr) return nullptr;
  return base_ + addr;
}

Result<DevAddr> CpuBackend::alloc(uint64_t bytes) {
  auto start = allocator_.allocate(bytes);
  if (!start) return Error{ENOMEM, "no free extent of device memory large enough"};
  return *start;  // never written, or punched out when freed: zeros
}

Status CpuBackend::reserve(DevAddr addr, uint64_t bytes) {
  if (!allocator_.reserve(addr, bytes))
    return Error{EINVAL, "device memory extent " + std::to_string(addr) + "+" +
                             std::to_string(bytes) + " is not free"};
  return ok_status();
}

Status CpuBackend::free(DevAddr addr) {
  const uint64_t len = allocator_.size_of(addr);
  if (len == 0 || !allocator_.release(addr)) return Error{EINVAL, "free of no allocation"};
  // Give the pages back; they read as zeros when allocated again.
  if (::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(addr),
                  static_cast<off_t>(len)) != 0) {
    std::memset(base_ + addr, 0, len);
  }
  return ok_status();
}

Status CpuBackend::copy_in(DevAddr dst, std::span<const std::byte> src) {
  std::byte* d = at(dst, src.size());
  if (d == nullptr) return outside("copy_in");
  if (!src.empty()) std::memcpy(d, src.data(), src.size());
  return ok_status();
}

Status CpuBackend::copy_out(std::span<std::byte> dst, DevAddr src) {
  const std::byte* s = at(src, dst.size());
  if (s == nullptr) return outside("copy_out");
  if (!dst.empty()) std::memcpy(dst.data(), s, dst.size());
  return ok_status();
}

Status CpuBackend::fill(DevAddr dst, uint32_t pattern, uint64_t count) {
  if (count > space_ / kPatternBytes) return outside("fill");
  std::byte* d = at(dst, count * kPatternBytes);
  if (d == nullptr) return outside("fill");
  std::array<std::byte, kFillBlock> block;
  for (size_t i = 0; i < block.size(); i += kPatternBytes)
    std::memcpy(block.data() + i, &pattern, kPatternBytes);  // little-endian host
  for (uint64_t left = count * kPatternBytes; left != 0;) {
    const uint64_t n = std::min<uint64_t>(left, block.size());
    std::memcpy(d, block.data(), n);
    d += n;
    left -= n;
  }
  return ok_status();
}

Status CpuBackend::copy(DevAddr dst, DevAddr src, uint64_t bytes) {
  std::byte* d = at(dst, bytes);
  const std::byte* s = at(src, bytes);
  if (d == nullptr || s == nullptr) return outside("copy");
  if (bytes != 0) std::memmove(d, s, bytes);
  return ok_status();
}

Status CpuBackend::saxpy(DevAddr x, DevAddr y, uint64_t n, float a) {
  if (n > space_ / sizeof(float)) return outside("saxpy");
  const std::byte* xs = at(x, n * sizeof(float));
  std::byte* ys = at(y, n * sizeof(float));
  if (xs == nullptr || ys == nullptr) return outside("saxpy");
  // Element-wise and in order, so x and y may be the same array. Loads and
  // stores through memcpy: any alignment, no aliasing assumptions, and the
  // compiler still vectorises the loop.
  for (uint64_t i = 0; i < n; ++i) {
    float xv;
    float yv;
    std::memcpy(&xv, xs + i * sizeof(float), sizeof xv);
    std::memcpy(&yv, ys + i * sizeof(float), sizeof yv);
    yv = a * xv + yv;
    std::memcpy(ys + i * sizeof(float), &yv, sizeof yv);
  }
  return ok_status();
}

Result<uint32_t> CpuBackend::crc32c(DevAddr src, uint64_t bytes, uint32_t crc) {
  const std::byte* s = at(src, bytes);
  if (s == nullptr) return outside("crc32c");
  return crc32c_extend(crc, std::span(s, bytes));
}

}  // namespace vgpu::compute
