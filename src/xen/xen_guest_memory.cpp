#include "xen_guest_memory.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <vector>

namespace vgpu::xen::detail {

namespace {

// Bounds one mapping, so that a large data_is_ptr transfer does not map an
// arbitrary amount of guest memory at once.
constexpr size_t kMaxPagesPerMapping = 16;

// A foreign mapping of `pages` consecutive guest frames, unmapped on scope exit.
struct Unmapper {
  xenforeignmemory_handle* fmem = nullptr;
  size_t pages = 0;
  void operator()(std::byte* addr) const {
    if (xenforeignmemory_unmap(fmem, addr, pages) < 0) {
      spdlog::warn("xenforeignmemory_unmap of {} guest pages failed: {}", pages,
                   std::strerror(errno));
    }
  }
};
using Mapping = std::unique_ptr<std::byte, Unmapper>;

// One piece of a guest range that fits a single mapping.
struct Chunk {
  uint64_t gpa;
  size_t offset;  // into the caller's buffer
  size_t length;
  size_t pages;
};

// Splits [gpa, gpa + len) into chunks of at most kMaxPagesPerMapping pages.
std::vector<Chunk> split(uint64_t gpa, size_t len) {
  std::vector<Chunk> chunks;
  for (size_t done = 0; done < len;) {
    const uint64_t addr = gpa + done;
    const size_t in_page = addr & (kPageSize - 1);
    const size_t length = std::min(len - done, kMaxPagesPerMapping * kPageSize - in_page);
    chunks.push_back({addr, done, length, (in_page + length + kPageSize - 1) / kPageSize});
    done += length;
  }
  return chunks;
}

Result<Mapping> map_chunk(xenforeignmemory_handle* fmem, uint16_t domid, const Chunk& chunk,
                          int prot) {
  std::vector<xen_pfn_t> gfns(chunk.pages);
  for (size_t i = 0; i < chunk.pages; ++i) gfns[i] = (chunk.gpa >> kPageShift) + i;
  // With no per-page error array the call is all or nothing, which is what a
  // copy needs.
  void* addr = xenforeignmemory_map(fmem, domid, prot, chunk.pages, gfns.data(), nullptr);
  if (!addr) {
    return call_error("xenforeignmemory_map", domid,
                      fmt::format("gfn {}, {} pages, {}", hex(gfns.front()), chunk.pages,
                                  (prot & PROT_WRITE) ? "read-write" : "read-only"));
  }
  return Mapping{static_cast<std::byte*>(addr), Unmapper{fmem, chunk.pages}};
}

Status check_range(uint16_t domid, uint64_t gpa, size_t len) {
  if (len > std::numeric_limits<uint64_t>::max() - gpa) {
    return Error{EINVAL, fmt::format("guest range {} + {} bytes of dom {} wraps around", hex(gpa),
                                     len, domid)};
  }
  return ok_status();
}

}  // namespace

Status XenGuestMemory::read(uint64_t gpa, std::span<std::byte> out) {
  if (auto st = check_range(domid_, gpa, out.size()); !st) return st;
  for (const Chunk& chunk : split(gpa, out.size())) {
    auto mapping = map_chunk(fmem_, domid_, chunk, PROT_READ);
    if (!mapping) return mapping.error();
    std::memcpy(out.data() + chunk.offset, mapping->get() + (chunk.gpa & (kPageSize - 1)),
                chunk.length);
  }
  return ok_status();
}

Status XenGuestMemory::write(uint64_t gpa, std::span<const std::byte> in) {
  if (auto st = check_range(domid_, gpa, in.size()); !st) return st;
  for (const Chunk& chunk : split(gpa, in.size())) {
    auto mapping = map_chunk(fmem_, domid_, chunk, PROT_READ | PROT_WRITE);
    if (!mapping) return mapping.error();
    std::memcpy(mapping->get() + (chunk.gpa & (kPageSize - 1)), in.data() + chunk.offset,
                chunk.length);
    const uint64_t first_pfn = chunk.gpa >> kPageShift;
    if (xendevicemodel_modified_memory(dmod_, domid_, first_pfn,
                                       static_cast<uint32_t>(chunk.pages)) < 0) {
      return call_error("modified_memory", domid_,
                        fmt::format("pfn {}, {} pages", hex(first_pfn), chunk.pages));
    }
  }
  return ok_status();
}

}  // namespace vgpu::xen::detail
