// Decodes one ioreq_t into device accesses: every request type, rep counts
// and direction, data through guest memory (docs/spec.md §7).
//
// The dispatcher works on a private copy of a slot, never on the shared page,
// so a guest rewriting its slot mid-request cannot change what we act on. It
// answers every request type, and every malformed request gets a defined
// answer (reads all ones, writes dropped) plus a rate-limited log line.
//
// Thread-compatible: one dispatcher per event-loop thread.
#pragma once

#include <cstdint>
#include <vector>

#include "vgpu/abi/ioreq.h"
#include "vgpu/common/rate_limited_log.h"
#include "vgpu/dma/guest_dma.h"
#include "vgpu/ioreq/io_handler.h"

namespace vgpu::ioreq {

// The most elements a rep request may carry. Xen splits rep MMIO so that one
// ioreq never crosses a page of guest data, so a real request stays far below
// this; anything above it is malformed.
inline constexpr uint32_t kMaxRepCount = 4096;

// Highest config offset a PCI_CONFIG request may name (PCIe extended space).
inline constexpr uint32_t kConfigSpaceLimit = 0x1000;

// What happened to one request, for counters and tests.
enum class Outcome : uint8_t {
  kHandled,       // a device access (or several, for rep) was made
  kIgnored,       // a type we accept and need not act on (TIMEOFFSET)
  kInvalidated,   // INVALIDATE: every cached guest mapping was dropped
  kMalformed,     // rejected: bad size, count, offset, pointer or unknown type
  kGuestMemFault  // data_is_ptr pointed outside guest memory
};

struct DispatchStats {
  uint64_t handled = 0;  // = config + mmio
  uint64_t config = 0;   // PCI_CONFIG accesses handled
  uint64_t mmio = 0;     // COPY requests handled (a rep counts once)
  // COPY requests whose data went through guest memory (data_is_ptr): the
  // only ones for which the daemon writes into the guest.
  uint64_t through_memory = 0;
  uint64_t ignored = 0;
  uint64_t invalidations = 0;
  uint64_t malformed = 0;
  uint64_t guest_mem_faults = 0;
};

class Dispatcher {
 public:
  // Guest memory (data_is_ptr requests, INVALIDATE) goes through `dma`.
  Dispatcher(IoHandler& handler, dma::GuestDma& dma) : handler_(handler), memory_(dma) {}

  // Handles `req` (a private copy of a READY slot) and leaves the response in
  // req.data for reads. The caller copies req.data back into the slot.
  Outcome dispatch(ioreq_t& req);

  const DispatchStats& stats() const { return stats_; }

 private:
  Outcome pci_config(ioreq_t& req);
  Outcome copy(ioreq_t& req);
  Outcome copy_immediate(ioreq_t& req);
  Outcome copy_through_memory(ioreq_t& req);
  Outcome reject(ioreq_t& req, const char* why);
  Outcome guest_fault(const ioreq_t& req, uint64_t gpa);
  Outcome count(Outcome o);

  IoHandler& handler_;
  dma::GuestDma& memory_;
  DispatchStats stats_;
  // Per dispatcher: two devices in one process must not share a budget.
  RateLimitedLog bad_request_log_{"malformed ioreqs"};
  std::vector<std::byte> rep_buffer_;  // one rep request's data, up to 32 KiB
};

// All ones in the low `size` bytes: the answer to a read of nothing.
constexpr uint64_t all_ones(unsigned size) {
  return size >= 8 ? ~uint64_t{0} : (uint64_t{1} << (size * 8)) - 1;
}

}  // namespace vgpu::ioreq
