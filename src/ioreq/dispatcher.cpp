#include "vgpu/ioreq/dispatcher.h"

#include <spdlog/spdlog.h>

#include <array>
#include <cstring>

namespace vgpu::ioreq {
namespace {

bool valid_config_size(uint32_t size) {
  return size == 1 || size == 2 || size == 4;
}
bool valid_mmio_size(uint32_t size) {
  return size == 1 || size == 2 || size == 4 || size == 8;
}

// Write data is only `size` bytes wide; Xen leaves the rest undefined.
uint64_t mask_to_size(uint64_t v, unsigned size) {
  return v & all_ones(size);
}

// Address of element i of a rep request, stepping by +-size as df says.
uint64_t element_addr(uint64_t base, const ioreq_t& req, uint32_t i) {
  const uint64_t step = uint64_t{i} * req.size;
  return req.df ? base - step : base + step;
}

}  // namespace

Outcome Dispatcher::dispatch(ioreq_t& req) {
  switch (req.type) {
    case IOREQ_TYPE_PCI_CONFIG:
      return count(pci_config(req));
    case IOREQ_TYPE_COPY:
      return count(copy(req));
    case IOREQ_TYPE_INVALIDATE:
      // Broadcast to every server for QEMU's mapcache; we keep no cached
      // guest mappings, but must still answer or the vCPU hangs.
    case IOREQ_TYPE_TIMEOFFSET:
      // RTC offset change, meaningful only to the default device model.
      return count(Outcome::kIgnored);
    case IOREQ_TYPE_PIO:
      // We claim no port ranges; a PIO request reaching us is a routing
      // oddity, answered like an absent device.
    default:
      return count(reject(req, "unexpected request type"));
  }
}

Outcome Dispatcher::pci_config(ioreq_t& req) {
  if (!valid_config_size(req.size)) return reject(req, "config access size not 1, 2 or 4");
  if (req.data_is_ptr || req.count != 1) return reject(req, "config access with rep or pointer");
  const uint32_t offset = abi::pci_config_offset(req.addr);
  if (offset >= kConfigSpaceLimit || offset + req.size > kConfigSpaceLimit)
    return reject(req, "config offset beyond 4 KiB");

  const uint32_t sbdf = abi::pci_config_sbdf(req.addr);
  if (req.dir == IOREQ_READ) {
    req.data = handler_.config_read(sbdf, offset, req.size);
  } else {
    handler_.config_write(sbdf, offset, req.size,
                          static_cast<uint32_t>(mask_to_size(req.data, req.size)));
  }
  ++stats_.config;
  return Outcome::kHandled;
}

Outcome Dispatcher::copy(ioreq_t& req) {
  if (!valid_mmio_size(req.size)) return reject(req, "MMIO access size not 1, 2, 4 or 8");
  if (req.count == 0) return reject(req, "MMIO access with count 0");
  if (req.count > kMaxRepCount) return reject(req, "MMIO rep count too large");
  return req.data_is_ptr ? copy_through_memory(req) : copy_immediate(req);
}

// rep stos / plain accesses: the data is in the slot. A rep write stores the
// same value at every element; a rep read returns the last element read.
Outcome Dispatcher::copy_immediate(ioreq_t& req) {
  const uint64_t value = mask_to_size(req.data, req.size);
  for (uint32_t i = 0; i < req.count; ++i) {
    const uint64_t addr = element_addr(req.addr, req, i);
    if (req.dir == IOREQ_READ) {
      req.data = handler_.mmio_read(addr, req.size);
    } else {
      handler_.mmio_write(addr, req.size, value);
    }
  }
  ++stats_.mmio;
  return Outcome::kHandled;
}

// rep movs / ins / outs: req.data is the guest-physical address of the data,
// stepping in the same direction as the device address.
Outcome Dispatcher::copy_through_memory(ioreq_t& req) {
  std::array<std::byte, 8> buf{};
  const std::span<std::byte> element(buf.data(), req.size);
  for (uint32_t i = 0; i < req.count; ++i) {
    const uint64_t addr = element_addr(req.addr, req, i);
    const uint64_t gpa = element_addr(req.data, req, i);
    if (req.dir == IOREQ_READ) {
      const uint64_t v = handler_.mmio_read(addr, req.size);
      std::memcpy(buf.data(), &v, req.size);
      if (!memory_.write(gpa, element)) return guest_fault(req, gpa);
    } else {
      uint64_t v = 0;
      if (!memory_.read(gpa, element)) return guest_fault(req, gpa);
      std::memcpy(&v, buf.data(), req.size);
      handler_.mmio_write(addr, req.size, v);
    }
  }
  ++stats_.mmio;
  ++stats_.through_memory;
  return Outcome::kHandled;
}

Outcome Dispatcher::reject(ioreq_t& req, const char* why) {
  bad_request_log_(
      "malformed ioreq ({}): type={}({}) dir={} addr={:#x} size={} count={} data_is_ptr={} df={}",
      why, abi::type_name(req.type), unsigned{req.type}, req.dir == IOREQ_READ ? "read" : "write",
      req.addr, req.size, req.count, unsigned{req.data_is_ptr}, unsigned{req.df});
  // A read of nothing returns all ones; a pointer request touches no memory.
  if (req.dir == IOREQ_READ && !req.data_is_ptr) req.data = ~uint64_t{0};
  return Outcome::kMalformed;
}

Outcome Dispatcher::guest_fault(const ioreq_t& req, uint64_t gpa) {
  bad_request_log_("ioreq data pointer {:#x} is outside guest memory: {} of {} bytes at {:#x}", gpa,
                   req.dir == IOREQ_READ ? "read" : "write", req.size, req.addr);
  return Outcome::kGuestMemFault;
}

Outcome Dispatcher::count(Outcome o) {
  switch (o) {
    case Outcome::kHandled:
      ++stats_.handled;
      break;
    case Outcome::kIgnored:
      ++stats_.ignored;
      break;
    case Outcome::kMalformed:
      ++stats_.malformed;
      break;
    case Outcome::kGuestMemFault:
      ++stats_.guest_mem_faults;
      break;
  }
  return o;
}

}  // namespace vgpu::ioreq
