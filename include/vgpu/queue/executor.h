// What each opcode means (docs/spec.md Part II), apart from rings and
// threads: checking a command against the handle table, and carrying it out
// on the compute backend and guest memory.
//
// prepare() runs under the queue's lock and finishes every command that
// changes the handle table (ALLOC, FREE) or needs no data (NOP, PING);
// the others become a Plan with handles resolved to device addresses and
// every range checked. run() carries a Plan out in chunks of at most
// kChunkBytes, looking at `abort` between chunks, and needs no lock: the
// queue runs one command at a time, so nothing changes the table under it.
//
// Thread-compatible.
#pragma once

#include <atomic>
#include <cstdint>
#include <variant>
#include <vector>

#include "vgpu/common/rate_limiter.h"
#include "vgpu/compute/backend.h"
#include "vgpu/dma/guest_dma.h"
#include "vgpu/queue/handle_table.h"
#include "vgpu/queue/protocol.h"

namespace vgpu::queue {

// Work between two looks at the abort flag.
inline constexpr uint64_t kChunkBytes = 1ull << 20;

struct Completion {
  Status status = Status::kSuccess;
  uint64_t result = 0;
};

struct Plan {
  Opcode op = Opcode::kNop;
  compute::DevAddr dst = 0;  // WRITE/READ/FILL/COPY target, SAXPY y, CRC32C source
  compute::DevAddr src = 0;  // COPY source, SAXPY x
  uint64_t length = 0;       // bytes; SAXPY: elements
  uint64_t list_gpa = 0;     // WRITE/READ scatter list
  uint64_t list_count = 0;
  uint32_t pattern = 0;  // FILL
  float a = 0;           // SAXPY
};

class Executor {
 public:
  Executor(dma::GuestDma& dma, compute::Backend& backend, HandleTable& handles)
      : dma_(dma), backend_(backend), handles_(handles) {}

  // Whether the command may run before the doorbell write is answered: it
  // moves or computes at most kInlineLimitBytes (judged on its arguments
  // alone, before any check).
  static bool is_short(const SubmissionEntry& entry);

  std::variant<Plan, Completion> prepare(const SubmissionEntry& entry);
  Completion run(const Plan& plan, const std::atomic<bool>& abort);

  // Frees every allocation (queue disable, teardown).
  void free_all();

 private:
  Completion alloc(uint64_t bytes);
  Completion free(uint64_t handle);
  std::variant<Plan, Completion> prepare_data(const SubmissionEntry& e);
  Completion transfer(const Plan& p, const std::atomic<bool>& abort);
  Completion fill(const Plan& p, const std::atomic<bool>& abort);
  Completion copy(const Plan& p, const std::atomic<bool>& abort);
  Completion saxpy(const Plan& p, const std::atomic<bool>& abort);
  Completion crc32c(const Plan& p, const std::atomic<bool>& abort);
  Completion backend_failure(const Error& e);

  dma::GuestDma& dma_;
  compute::Backend& backend_;
  HandleTable& handles_;
  std::vector<dma::GuestRange> ranges_;  // the current transfer's scatter list
  std::vector<dma::GuestRange> chunk_;
  RateLimiter log_limiter_;
};

}  // namespace vgpu::queue
