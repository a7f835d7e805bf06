// CommandQueue: registers, enable/disable, doorbells, fatal states and
// teardown. Fetching, execution and the worker are in
// command_queue_engine.cpp.
#include "vgpu/queue/command_queue.h"

#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <bit>

namespace vgpu::queue {

namespace {

constexpr uint32_t kLow32 = 0xFFFFFFFF;
constexpr unsigned kBitsPerByte = 8;

bool in_window(uint64_t offset, unsigned size) {
  return offset >= qregs::kWindowStart && offset < qregs::kWindowEnd &&
         size <= qregs::kWindowEnd - offset;
}

bool valid_ring_size(uint32_t n) {
  return std::has_single_bit(n) && n >= kMinRingEntries && n <= kMaxRingEntries;
}

bool valid_base(uint64_t base) {
  return base != 0 && base % kRingAlignment == 0;
}

// What is wrong with the rings the registers describe, as ENABLE reports it.
std::optional<FatalReason> ring_layout_error(const QueueRegisters& r) {
  if (!valid_base(r.sq_base) || !valid_base(r.cq_base)) return FatalReason::kBadBase;
  if (!valid_ring_size(r.sq_entries) || !valid_ring_size(r.cq_entries) ||
      r.cq_entries < r.sq_entries)
    return FatalReason::kBadSize;
  return std::nullopt;
}

// Stores the low or high half of a 64-bit register.
void store_half(uint64_t& reg, bool high, uint32_t value) {
  reg = high ? (reg & kLow32) | uint64_t{value} << 32 : (reg & ~uint64_t{kLow32}) | value;
}

}  // namespace

const char* to_string(QueueState state) {
  switch (state) {
    case QueueState::kDisabled:
      return "disabled";
    case QueueState::kReady:
      return "ready";
    case QueueState::kFatal:
      return "fatal";
  }
  return "?";
}

CommandQueue::CommandQueue(dma::GuestDma& dma, compute::Backend& backend, QueueConfig config)
    : dma_(dma),
      backend_(backend),
      config_(config),
      handles_(config.mem_limit, backend.granule(), config.max_handles),
      executor_(dma, backend, handles_),
      event_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (event_fd_ < 0) throw std::system_error(errno, std::generic_category(), "queue eventfd");
}

CommandQueue::~CommandQueue() {
  shutdown();
  ::close(event_fd_);
}

bool CommandQueue::stop_for_good() {
  std::unique_lock lock(mu_);
  if (shut_down_) return false;
  shut_down_ = true;
  stop_ = true;
  abort_ = true;
  post_aborted_ = false;
  work_cv_.notify_all();
  lock.unlock();
  if (worker_.joinable()) worker_.join();
  return true;
}

void CommandQueue::shutdown() {
  if (!stop_for_good()) return;
  std::lock_guard lock(mu_);
  executor_.free_all();
  release_rings_locked();
  regs_.ctrl = 0;
  regs_.status = 0;
}

void CommandQueue::abandon() {
  stop_for_good();
}

void CommandQueue::save(StateWriter& out) const {
  std::lock_guard lock(mu_);
  QueueRegisters r = regs_;
  // One command at most is between fetch and completion (handed to the
  // worker, or running there): saved as unfetched, it runs again.
  if ((handoff_ || running_) && r.sq_entries != 0)
    r.sq_head = (r.sq_head + r.sq_entries - 1) % r.sq_entries;
  out.put(r);
  handles_.save(out);
}

vgpu::Status CommandQueue::restore(StateReader& in, bool bus_master) {
  std::unique_lock lock(mu_);
  auto saved = in.get<QueueRegisters>();
  if (!saved) return Error{EINVAL, "saved queue registers truncated"};
  const QueueRegisters& r = *saved;
  const bool ready = (r.status & kStatusReady) != 0;
  if (ready) {
    const bool sane = (r.ctrl & kCtrlEnable) != 0 && (r.status & kStatusFatal) == 0 &&
                      !ring_layout_error(r) && r.sq_head < r.sq_entries &&
                      r.sq_tail < r.sq_entries && r.cq_tail < r.cq_entries &&
                      r.cq_released < r.cq_entries && r.cq_head < r.cq_entries && r.phase <= 1;
    if (!sane) return Error{EINVAL, "saved queue registers are inconsistent"};
  }
  if (vgpu::Status s = handles_.restore(in); !s) return s;
  for (const HandleEntry& e : handles_.live_entries()) {
    if (vgpu::Status s = backend_.reserve(e.addr, e.charged); !s) {
      executor_.free_all();
      return s;
    }
  }
  regs_ = r;
  bus_master_ = bus_master;
  if (ready) {
    if (!pin_rings_locked()) {
      fatal_locked(lock, FatalReason::kRingNotMappable);
      return ok_status();  // the guest sees FATAL, as it would have for the same rings
    }
    spdlog::info("command queue restored: SQ head {} tail {}, CQ tail {} phase {}, {} handle(s)",
                 r.sq_head, r.sq_tail, r.cq_tail, r.phase, handles_.live());
    // The dead daemon may have posted completions and died before their
    // MSI: one interrupt now costs a driver a look at its CQ, and saves it
    // from waiting for one that never comes.
    irq_pending_ = true;
    kick_locked();  // what was submitted but not completed runs now
  }
  signal_event();
  return ok_status();
}

uint64_t CommandQueue::read(uint64_t offset, unsigned size) {
  std::lock_guard lock(mu_);
  uint64_t v = 0;
  for (unsigned i = 0; i < size && i < sizeof v; ++i) {
    const uint64_t at = offset + i;
    if (at < offset || !in_window(at, 1)) continue;
    const auto dword = reg32_locked(static_cast<uint32_t>(at & ~uint64_t{3}));
    v |= uint64_t{(dword >> (kBitsPerByte * (at & 3))) & 0xFF} << (kBitsPerByte * i);
  }
  return v;
}

uint32_t CommandQueue::reg32_locked(uint32_t offset) const {
  switch (offset) {
    case qregs::kVersion:
      return kQueueVersion;
    case qregs::kCtrl:
      return regs_.ctrl & kCtrlEnable;
    case qregs::kStatus:
      return regs_.status;
    case qregs::kMaxEntries:
      return kMaxRingEntries;
    case qregs::kSqBase:
      return static_cast<uint32_t>(regs_.sq_base);
    case qregs::kSqBase + 4:
      return static_cast<uint32_t>(regs_.sq_base >> 32);
    case qregs::kCqBase:
      return static_cast<uint32_t>(regs_.cq_base);
    case qregs::kCqBase + 4:
      return static_cast<uint32_t>(regs_.cq_base >> 32);
    case qregs::kSqEntries:
      return regs_.sq_entries;
    case qregs::kCqEntries:
      return regs_.cq_entries;
    case qregs::kSqTail:
      return regs_.sq_tail;
    case qregs::kCqHead:
      return regs_.cq_head;
    case qregs::kSqHead:
      return regs_.sq_head;
    case qregs::kCompletions:
      return regs_.completions;
    case qregs::kMemTotal:
      return static_cast<uint32_t>(handles_.total());
    case qregs::kMemTotal + 4:
      return static_cast<uint32_t>(handles_.total() >> 32);
    case qregs::kMemFree:
      return static_cast<uint32_t>(handles_.free());
    case qregs::kMemFree + 4:
      return static_cast<uint32_t>(handles_.free() >> 32);
    default:
      return 0;  // reserved
  }
}

void CommandQueue::write(uint64_t offset, unsigned size, uint64_t value) {
  if (!in_window(offset, size)) return;  // not (wholly) the queue's
  std::unique_lock lock(mu_);
  if (shut_down_) return;
  const bool wide_base =
      size == qregs::kWideRegisterWidth && (offset == qregs::kSqBase || offset == qregs::kCqBase);
  if (wide_base) {
    write32_locked(lock, static_cast<uint32_t>(offset), static_cast<uint32_t>(value));
    write32_locked(lock, static_cast<uint32_t>(offset + 4), static_cast<uint32_t>(value >> 32));
    return;
  }
  if (size != qregs::kRegisterWidth || offset % qregs::kRegisterWidth != 0) {
    ++stats_.dropped_writes;
    log_guest_error("queue register write of the wrong width or alignment dropped at", offset);
    return;
  }
  write32_locked(lock, static_cast<uint32_t>(offset), static_cast<uint32_t>(value));
}

void CommandQueue::write32_locked(std::unique_lock<std::mutex>& lock, uint32_t offset,
                                  uint32_t value) {
  const bool enabled = (regs_.ctrl & kCtrlEnable) != 0;
  switch (offset) {
    case qregs::kCtrl:
      return write_ctrl_locked(lock, value);
    case qregs::kSqBase:
    case qregs::kSqBase + 4:
      if (!enabled) store_half(regs_.sq_base, offset != qregs::kSqBase, value);
      return;
    case qregs::kCqBase:
    case qregs::kCqBase + 4:
      if (!enabled) store_half(regs_.cq_base, offset != qregs::kCqBase, value);
      return;
    case qregs::kSqEntries:
      if (!enabled) regs_.sq_entries = value;
      return;
    case qregs::kCqEntries:
      if (!enabled) regs_.cq_entries = value;
      return;
    case qregs::kSqTail:
      return sq_doorbell_locked(lock, value);
    case qregs::kCqHead:
      return cq_doorbell_locked(lock, value);
    default:
      return;  // read-only or reserved
  }
}

void CommandQueue::write_ctrl_locked(std::unique_lock<std::mutex>& lock, uint32_t value) {
  const bool was = (regs_.ctrl & kCtrlEnable) != 0;
  const bool now = (value & kCtrlEnable) != 0;
  if (was == now) return;
  if (now) {
    enable_locked();
  } else {
    disable_locked(lock);
  }
  signal_event();
}

// 0 -> 1: reset the indices, check the registers and map the rings.
void CommandQueue::enable_locked() {
  regs_.ctrl = kCtrlEnable;
  regs_.sq_tail = regs_.cq_head = regs_.sq_head = regs_.completions = 0;
  regs_.cq_tail = regs_.cq_released = 0;
  regs_.phase = 1;
  auto fatal = [this](FatalReason r) {
    regs_.status = kStatusFatal | uint32_t{static_cast<uint8_t>(r)} << kFatalReasonShift;
    ++stats_.fatal;
    log_guest_error("queue enable failed, FATAL reason", static_cast<uint8_t>(r));
  };
  if (auto error = ring_layout_error(regs_)) return fatal(*error);
  if (!bus_master_) return fatal(FatalReason::kBusMasterOff);
  if (!pin_rings_locked()) return fatal(FatalReason::kRingNotMappable);
  regs_.status = kStatusReady;
  spdlog::info("command queue enabled: SQ {} entries at {:#x}, CQ {} entries at {:#x}",
               regs_.sq_entries, regs_.sq_base, regs_.cq_entries, regs_.cq_base);
}

// 1 -> 0: the running command stops and completes ABORTED, unfetched
// entries are dropped, device memory is freed, mappings are dropped.
void CommandQueue::disable_locked(std::unique_lock<std::mutex>& lock) {
  regs_.ctrl = 0;  // fetching stops here
  stop_running_locked(lock, (regs_.status & kStatusReady) != 0 && bus_master_);
  executor_.free_all();
  release_rings_locked();
  dma_.invalidate();
  regs_.status = 0;
  regs_.sq_tail = regs_.cq_head = regs_.sq_head = regs_.completions = 0;
  regs_.cq_tail = regs_.cq_released = 0;
  regs_.phase = 1;
  spdlog::info("command queue disabled; device memory freed");
}

void CommandQueue::fatal_locked(std::unique_lock<std::mutex>& lock, FatalReason reason) {
  regs_.status = kStatusFatal | uint32_t{static_cast<uint8_t>(reason)} << kFatalReasonShift;
  ++stats_.fatal;
  log_guest_error("command queue FATAL, reason", static_cast<uint8_t>(reason));
  stop_running_locked(lock, false);
  signal_event();
}

// Stops fetching and, if a long command runs on the worker, makes it stop
// at its next chunk and waits for that. With `post_aborted` it completes
// ABORTED; otherwise (the rings are off limits) it completes nothing.
void CommandQueue::stop_running_locked(std::unique_lock<std::mutex>& lock, bool post_aborted) {
  handoff_.reset();
  worker_owns_ = false;
  if (!running_) return;
  post_aborted_ = post_aborted;
  abort_ = true;
  idle_cv_.wait(lock, [this] { return !running_; });
}

void CommandQueue::sq_doorbell_locked(std::unique_lock<std::mutex>& lock, uint32_t value) {
  regs_.sq_tail = value;
  if (!ready_locked()) return;  // stored, otherwise ignored
  if (value >= regs_.sq_entries) return fatal_locked(lock, FatalReason::kDoorbellRange);
  kick_locked();
}

void CommandQueue::cq_doorbell_locked(std::unique_lock<std::mutex>& lock, uint32_t value) {
  regs_.cq_head = value;
  if (!ready_locked()) return;
  const uint32_t n = regs_.cq_entries;
  if (value >= n) return fatal_locked(lock, FatalReason::kDoorbellRange);
  const uint32_t posted = (regs_.cq_tail + n - regs_.cq_released) % n;
  const uint32_t released = (value + n - regs_.cq_released) % n;
  if (released > posted) return fatal_locked(lock, FatalReason::kCqHeadAhead);
  regs_.cq_released = value;
  kick_locked();  // a full ring may have room again
}

void CommandQueue::set_bus_master(bool on) {
  std::unique_lock lock(mu_);
  if (on == bus_master_) return;
  bus_master_ = on;
  if (!on && ready_locked()) fatal_locked(lock, FatalReason::kBusMasterOff);
}

bool CommandQueue::pin_rings_locked() {
  auto sq = dma_.pin_ring({regs_.sq_base, uint64_t{regs_.sq_entries} * sizeof(SubmissionEntry)});
  auto cq = dma_.pin_ring({regs_.cq_base, uint64_t{regs_.cq_entries} * sizeof(CompletionEntry)});
  if (sq) sq_ring_ = *sq;
  if (cq) cq_ring_ = *cq;
  if (sq && cq) return true;
  release_rings_locked();
  return false;
}

void CommandQueue::release_rings_locked() {
  if (sq_ring_) dma_.unpin_ring(*sq_ring_);
  if (cq_ring_) dma_.unpin_ring(*cq_ring_);
  sq_ring_.reset();
  cq_ring_.reset();
}

void CommandQueue::clear_event() {
  uint64_t count = 0;
  (void)!::read(event_fd_, &count, sizeof count);  // EAGAIN when already clear
}

bool CommandQueue::take_interrupt() {
  std::lock_guard lock(mu_);
  if (!irq_pending_) return false;
  irq_pending_ = false;
  ++stats_.interrupts;
  return true;
}

QueueState CommandQueue::state() const {
  std::lock_guard lock(mu_);
  if (regs_.status & kStatusFatal) return QueueState::kFatal;
  if (regs_.status & kStatusReady) return QueueState::kReady;
  return QueueState::kDisabled;
}

QueueStats CommandQueue::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

QueueRegisters CommandQueue::registers() const {
  std::lock_guard lock(mu_);
  return regs_;
}

void CommandQueue::signal_event() {
  const uint64_t one = 1;
  (void)!::write(event_fd_, &one, sizeof one);  // fails only on counter overflow
}

void CommandQueue::log_guest_error(const char* what, uint64_t value) {
  uint64_t dropped = 0;
  if (log_limiter_.allow(&dropped))
    spdlog::warn("{} {:#x}{}", what, value,
                 dropped ? fmt::format(" ({} similar lines suppressed)", dropped) : "");
}

}  // namespace vgpu::queue
