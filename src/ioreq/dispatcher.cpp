#include "vgpu/ioreq/dispatcher.h"

#include <spdlog/spdlog.h>

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
      // Broadcast to every server when the guest's memory map changed: no
      // mapping made before it may be used again, and all are gone before
      // the vCPU is answered (docs/spec.md Part II, trust).
      memory_.invalidate();
      return count(Outcome::kInvalidated);
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
// stepping in the same direction as the device address. The whole buffer is
// read from (or written to) guest memory in one access: a write's elements
// are all fetched before the device sees the first; a read's are stored
// once the device has produced them all.
Outcome Dispatcher::copy_through_memory(ioreq_t& req) {
  const uint64_t bytes = uint64_t{req.count} * req.size;
  const uint64_t span_back = bytes - req.size;  // from the first element to the last
  if (req.df && req.data < span_back) return guest_fault(req, req.data);
  const uint64_t lowest = req.df ? req.data - span_back : req.data;
  rep_buffer_.resize(bytes);
  const std::span<std::byte> buf(rep_buffer_.data(), bytes);
  // Element i sits at buffer index i walking up, count - 1 - i walking down.
  auto element = [&](uint32_t i) {
    return rep_buffer_.data() + uint64_t{req.df ? req.count - 1 - i : i} * req.size;
  };
  if (req.dir == IOREQ_READ) {
    for (uint32_t i = 0; i < req.count; ++i) {
      const uint64_t v = handler_.mmio_read(element_addr(req.addr, req, i), req.size);
      std::memcpy(element(i), &v, req.size);
    }
    if (!memory_.write(lowest, buf)) return guest_fault(req, lowest);
  } else {
    if (!memory_.read(lowest, buf)) return guest_fault(req, lowest);
    for (uint32_t i = 0; i < req.count; ++i) {
      uint64_t v = 0;
      std::memcpy(&v, element(i), req.size);
      handler_.mmio_write(element_addr(req.addr, req, i), req.size, v);
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
    case Outcome::kInvalidated:
      ++stats_.invalidations;
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
