#include "vgpu/queue/executor.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <bit>

#include "vgpu/queue/scatter_list.h"

namespace vgpu::queue {

namespace {

constexpr uint64_t kF32Bytes = sizeof(float);
constexpr uint64_t kPatternBytes = 4;

// [offset, offset + len) inside the allocation, without overflow.
bool fits(const HandleEntry& e, uint64_t offset, uint64_t len) {
  return offset <= e.size && len <= e.size - offset;
}

Completion fail(Status s) {
  return {s, 0};
}

}  // namespace

const char* to_string(Status status) {
  switch (status) {
    case Status::kSuccess:
      return "SUCCESS";
    case Status::kInvalidOpcode:
      return "INVALID_OPCODE";
    case Status::kInvalidField:
      return "INVALID_FIELD";
    case Status::kInvalidAddress:
      return "INVALID_ADDRESS";
    case Status::kNoMemory:
      return "NO_MEMORY";
    case Status::kInvalidHandle:
      return "INVALID_HANDLE";
    case Status::kOutOfRange:
      return "OUT_OF_RANGE";
    case Status::kAborted:
      return "ABORTED";
  }
  return "?";
}

bool Executor::is_short(const SubmissionEntry& e) {
  switch (static_cast<Opcode>(e.opcode)) {
    case Opcode::kWrite:
    case Opcode::kRead:
    case Opcode::kFill:
    case Opcode::kCrc32c:
      return e.arg[2] <= kInlineLimitBytes;
    case Opcode::kCopy:
      return e.arg[4] <= kInlineLimitBytes;
    case Opcode::kSaxpy:
      return e.arg[2] <= kInlineLimitBytes / kF32Bytes;
    default:
      return true;
  }
}

std::variant<Plan, Completion> Executor::prepare(const SubmissionEntry& e) {
  switch (static_cast<Opcode>(e.opcode)) {
    case Opcode::kNop:
    case Opcode::kPing:
    case Opcode::kAlloc:
    case Opcode::kFree:
    case Opcode::kWrite:
    case Opcode::kRead:
    case Opcode::kFill:
    case Opcode::kCopy:
    case Opcode::kSaxpy:
    case Opcode::kCrc32c:
      break;
    default:
      return fail(Status::kInvalidOpcode);
  }
  if (e.flags != 0 || e.reserved != 0) return fail(Status::kInvalidField);
  switch (static_cast<Opcode>(e.opcode)) {
    case Opcode::kNop:
      return Completion{};
    case Opcode::kPing:
      return Completion{Status::kSuccess, ~e.arg[0]};
    case Opcode::kAlloc:
      return alloc(e.arg[0]);
    case Opcode::kFree:
      return free(e.arg[0]);
    default:
      return prepare_data(e);
  }
}

Completion Executor::alloc(uint64_t bytes) {
  if (bytes == 0) return fail(Status::kInvalidField);
  const auto charge = handles_.charge_for(bytes);
  if (!charge || *charge > handles_.free() || handles_.full()) return fail(Status::kNoMemory);
  auto addr = backend_.alloc(bytes);
  if (!addr) return fail(Status::kNoMemory);
  return {Status::kSuccess, handles_.insert(*addr, bytes, *charge)};
}

Completion Executor::free(uint64_t handle) {
  const HandleEntry* e = handles_.find(handle);
  if (e == nullptr) return fail(Status::kInvalidHandle);
  const vgpu::Status freed = backend_.free(e->addr);
  handles_.remove(handle);
  if (!freed) return backend_failure(freed.error());
  return {};
}

std::variant<Plan, Completion> Executor::prepare_data(const SubmissionEntry& e) {
  const auto op = static_cast<Opcode>(e.opcode);
  Plan p;
  p.op = op;
  const HandleEntry* h = handles_.find(e.arg[0]);
  if (op == Opcode::kCopy) {
    const HandleEntry* d = handles_.find(e.arg[2]);
    if (h == nullptr || d == nullptr) return fail(Status::kInvalidHandle);
    if (!fits(*h, e.arg[1], e.arg[4]) || !fits(*d, e.arg[3], e.arg[4]))
      return fail(Status::kOutOfRange);
    p.src = h->addr + e.arg[1];
    p.dst = d->addr + e.arg[3];
    p.length = e.arg[4];
    return p;
  }
  if (op == Opcode::kSaxpy) {
    const HandleEntry* y = handles_.find(e.arg[1]);
    if (h == nullptr || y == nullptr) return fail(Status::kInvalidHandle);
    const uint64_t n = e.arg[2];
    if (n > h->size / kF32Bytes || n > y->size / kF32Bytes) return fail(Status::kOutOfRange);
    p.src = h->addr;
    p.dst = y->addr;
    p.length = n;
    p.a = std::bit_cast<float>(static_cast<uint32_t>(e.arg[3]));
    return p;
  }
  if (h == nullptr) return fail(Status::kInvalidHandle);
  const uint64_t offset = e.arg[1];
  const uint64_t len = e.arg[2];
  if (op == Opcode::kWrite || op == Opcode::kRead) {
    if (len > kMaxTransferBytes) return fail(Status::kInvalidField);
    if (e.arg[4] == 0 || e.arg[4] > kMaxScatterEntries) return fail(Status::kInvalidField);
    p.list_gpa = e.arg[3];
    p.list_count = e.arg[4];
  }
  if (op == Opcode::kFill) {
    if (len % kPatternBytes != 0) return fail(Status::kInvalidField);
    p.pattern = static_cast<uint32_t>(e.arg[3]);
  }
  if (!fits(*h, offset, len)) return fail(Status::kOutOfRange);
  p.dst = h->addr + offset;
  p.length = len;
  return p;
}

Completion Executor::run(const Plan& p, const std::atomic<bool>& abort) {
  Completion c;
  switch (p.op) {
    case Opcode::kWrite:
    case Opcode::kRead:
      c = transfer(p, abort);
      break;
    case Opcode::kFill:
      c = fill(p, abort);
      break;
    case Opcode::kCopy:
      c = copy(p, abort);
      break;
    case Opcode::kSaxpy:
      c = saxpy(p, abort);
      break;
    case Opcode::kCrc32c:
      c = crc32c(p, abort);
      break;
    default:
      return fail(Status::kInvalidOpcode);  // prepare() never plans these
  }
  if (c.status == Status::kSuccess) {
    if (auto st = backend_.synchronize(); !st) return backend_failure(st.error());
  }
  return c;
}

// WRITE / READ: the list is read once and every data frame mapped before a
// byte moves; then up to kChunkBytes per step, zero-copy between the guest
// mapping and device memory.
Completion Executor::transfer(const Plan& p, const std::atomic<bool>& abort) {
  {
    auto s = dma_.session();
    const Status st = parse_scatter_list(*s, p.list_gpa, p.list_count, p.length, ranges_);
    if (st != Status::kSuccess) return fail(st);
    if (!s->prefetch(ranges_)) return fail(Status::kInvalidAddress);
  }
  const auto dir = p.op == Opcode::kWrite ? dma::Direction::kFromGuest : dma::Direction::kToGuest;
  size_t index = 0;
  uint64_t into = 0;  // bytes of ranges_[index] already moved
  for (uint64_t done = 0; done < p.length;) {
    if (abort.load(std::memory_order_relaxed)) return fail(Status::kAborted);
    chunk_.clear();
    uint64_t n = 0;
    while (n < kChunkBytes && index < ranges_.size()) {
      const dma::GuestRange& r = ranges_[index];
      const uint64_t take = std::min(r.len - into, kChunkBytes - n);
      chunk_.push_back({r.gpa + into, take});
      n += take;
      into += take;
      if (into == r.len) ++index, into = 0;
    }
    compute::DevAddr at = p.dst + done;
    vgpu::Status moved;
    auto s = dma_.session();
    const vgpu::Status mapped = s->visit(chunk_, dir, [&](std::span<std::byte> piece) {
      if (!moved) return;
      moved = dir == dma::Direction::kFromGuest ? backend_.copy_in(at, piece)
                                                : backend_.copy_out(piece, at);
      at += piece.size();
    });
    if (!mapped) return fail(Status::kInvalidAddress);
    if (!moved) return backend_failure(moved.error());
    done += n;
  }
  return {Status::kSuccess, p.length};
}

Completion Executor::fill(const Plan& p, const std::atomic<bool>& abort) {
  for (uint64_t done = 0; done < p.length;) {
    if (abort.load(std::memory_order_relaxed)) return fail(Status::kAborted);
    const uint64_t n = std::min(kChunkBytes, p.length - done);
    if (auto st = backend_.fill(p.dst + done, p.pattern, n / kPatternBytes); !st)
      return backend_failure(st.error());
    done += n;
  }
  return {};
}

// memmove semantics in chunks: walk away from the overlap, so that no chunk
// reads bytes an earlier chunk already overwrote.
Completion Executor::copy(const Plan& p, const std::atomic<bool>& abort) {
  const bool backwards = p.dst > p.src && p.dst - p.src < p.length;
  for (uint64_t done = 0; done < p.length;) {
    if (abort.load(std::memory_order_relaxed)) return fail(Status::kAborted);
    const uint64_t n = std::min(kChunkBytes, p.length - done);
    const uint64_t at = backwards ? p.length - done - n : done;
    if (auto st = backend_.copy(p.dst + at, p.src + at, n); !st) return backend_failure(st.error());
    done += n;
  }
  return {};
}

Completion Executor::saxpy(const Plan& p, const std::atomic<bool>& abort) {
  constexpr uint64_t kElems = kChunkBytes / kF32Bytes;
  for (uint64_t done = 0; done < p.length;) {
    if (abort.load(std::memory_order_relaxed)) return fail(Status::kAborted);
    const uint64_t n = std::min(kElems, p.length - done);
    const uint64_t off = done * kF32Bytes;
    if (auto st = backend_.saxpy(p.src + off, p.dst + off, n, p.a); !st)
      return backend_failure(st.error());
    done += n;
  }
  return {};
}

Completion Executor::crc32c(const Plan& p, const std::atomic<bool>& abort) {
  uint32_t crc = 0;
  for (uint64_t done = 0; done < p.length;) {
    if (abort.load(std::memory_order_relaxed)) return fail(Status::kAborted);
    const uint64_t n = std::min(kChunkBytes, p.length - done);
    auto next = backend_.crc32c(p.dst + done, n, crc);
    if (!next) return backend_failure(next.error());
    crc = *next;
    done += n;
  }
  return {Status::kSuccess, crc};
}

// The queue checked every range, so this is a host failure, not the guest's.
Completion Executor::backend_failure(const Error& e) {
  uint64_t dropped = 0;
  if (log_limiter_.allow(&dropped))
    spdlog::error("compute backend: {}{}", e.describe(),
                  dropped ? fmt::format(" ({} similar lines suppressed)", dropped) : "");
  return fail(e.code == ENOMEM ? Status::kNoMemory : Status::kOutOfRange);
}

void Executor::free_all() {
  for (const HandleEntry& e : handles_.live_entries()) {
    if (auto st = backend_.free(e.addr); !st)
      spdlog::error("freeing device memory: {}", st.error().describe());
  }
  handles_.clear();
}

}  // namespace vgpu::queue
