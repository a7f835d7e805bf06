// CommandQueue: fetching entries, running them inline or on the worker,
// posting completions.
#include <atomic>
#include <cstring>
#include <variant>

#include "vgpu/queue/command_queue.h"

namespace vgpu::queue {

namespace {

// Never set: commands run inline are short and cannot be aborted midway.
const std::atomic<bool> kNeverAbort{false};

}  // namespace

bool CommandQueue::ready_locked() const {
  return (regs_.ctrl & kCtrlEnable) != 0 && (regs_.status & kStatusReady) != 0 && !stop_;
}

// One command in flight at a time, and fetched only when its completion is
// sure to have a slot: a full completion ring pauses fetching.
bool CommandQueue::can_fetch_locked() const {
  if (!ready_locked() || !bus_master_ || regs_.sq_head == regs_.sq_tail) return false;
  return (regs_.cq_tail + 1) % regs_.cq_entries != regs_.cq_released;
}

void CommandQueue::kick_locked() {
  if (worker_owns_) {
    work_cv_.notify_one();
    return;
  }
  process_inline_locked();
}

// The doorbell's own thread runs what is short; the first long command is
// handed to the worker, which then owns the rings.
void CommandQueue::process_inline_locked() {
  if (!can_fetch_locked()) return;  // e.g. a CQ_HEAD write with nothing new to run
  auto session = dma_.session();
  while (can_fetch_locked()) {
    auto entry = fetch_locked(*session);
    if (!entry) return;
    if (!Executor::is_short(*entry)) {
      handoff_ = *entry;
      worker_owns_ = true;
      if (!worker_.joinable()) worker_ = std::thread([this] { worker_main(); });
      work_cv_.notify_one();
      return;
    }
    ++stats_.inline_commands;
    auto prepared = executor_.prepare(*entry);
    Completion c = std::holds_alternative<Completion>(prepared)
                       ? std::get<Completion>(prepared)
                       : executor_.run(std::get<Plan>(prepared), kNeverAbort);
    post_locked(*session, entry->command_id, c);
  }
}

// Copies one entry into private memory: the only read of it.
std::optional<SubmissionEntry> CommandQueue::fetch_locked(dma::DmaSession& session) {
  auto ring = session.ring(*sq_ring_);
  if (!ring) {
    regs_.status = kStatusFatal | uint32_t{static_cast<uint8_t>(FatalReason::kRingNotMappable)}
                                      << kFatalReasonShift;
    ++stats_.fatal;
    signal_event();
    return std::nullopt;
  }
  SubmissionEntry e;
  std::memcpy(&e, *ring + uint64_t{regs_.sq_head} * sizeof e, sizeof e);
  regs_.sq_head = (regs_.sq_head + 1) % regs_.sq_entries;
  return e;
}

// The completion's first 12 bytes, then its last dword (sq_head, status and
// phase) with release, so a guest that sees the phase flip sees the rest.
void CommandQueue::post_locked(dma::DmaSession& session, uint32_t command_id, Completion c) {
  auto ring = session.ring(*cq_ring_);
  if (!ring) {
    regs_.status = kStatusFatal | uint32_t{static_cast<uint8_t>(FatalReason::kRingNotMappable)}
                                      << kFatalReasonShift;
    ++stats_.fatal;
    signal_event();
    return;
  }
  const uint64_t offset = uint64_t{regs_.cq_tail} * sizeof(CompletionEntry);
  std::byte* slot = *ring + offset;
  CompletionEntry e{c.result, command_id, static_cast<uint16_t>(regs_.sq_head),
                    status_phase(c.status, regs_.phase != 0)};
  std::memcpy(slot, &e, kCompletionTailOffset);
  uint32_t tail = 0;
  std::memcpy(&tail, reinterpret_cast<const std::byte*>(&e) + kCompletionTailOffset, sizeof tail);
  std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t*>(slot + kCompletionTailOffset))
      .store(tail, std::memory_order_release);
  session.ring_written(*cq_ring_, offset, sizeof e);
  if (++regs_.cq_tail == regs_.cq_entries) {
    regs_.cq_tail = 0;
    regs_.phase ^= 1;
  }
  ++regs_.completions;
  ++stats_.completions;
  if (c.status == Status::kAborted) ++stats_.aborted;
  irq_pending_ = true;
}

// On the worker: a long command runs with the lock dropped, so that register
// reads, disable and Bus Master changes get through; between chunks it
// looks at abort_.
void CommandQueue::execute_locked(std::unique_lock<std::mutex>& lock, const SubmissionEntry& e,
                                  bool on_worker) {
  if (on_worker) ++stats_.worker_commands;
  auto prepared = executor_.prepare(e);
  Completion c;
  if (std::holds_alternative<Completion>(prepared)) {
    c = std::get<Completion>(prepared);
  } else if (Executor::is_short(e)) {
    c = executor_.run(std::get<Plan>(prepared), kNeverAbort);
  } else {
    running_ = true;
    abort_ = false;
    lock.unlock();
    c = executor_.run(std::get<Plan>(prepared), abort_);
    lock.lock();
    const bool stopped = abort_.exchange(false);
    if (stopped) c = {Status::kAborted, 0};
    const bool post = stopped ? post_aborted_ : ready_locked();
    post_aborted_ = false;
    if (post) {
      auto session = dma_.session();
      post_locked(*session, e.command_id, c);
    }
    running_ = false;
    idle_cv_.notify_all();
    return;
  }
  auto session = dma_.session();
  post_locked(*session, e.command_id, c);
}

void CommandQueue::worker_main() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_cv_.wait(lock,
                  [this] { return stop_ || (worker_owns_ && (handoff_ || can_fetch_locked())); });
    if (stop_) return;
    std::optional<SubmissionEntry> entry = std::exchange(handoff_, std::nullopt);
    if (!entry) {
      auto session = dma_.session();
      entry = fetch_locked(*session);
    }
    if (entry) execute_locked(lock, *entry, true);
    // Drained (or unable to go on): doorbells run inline again.
    if (!handoff_ && !can_fetch_locked()) worker_owns_ = false;
    if (irq_pending_) signal_event();
  }
}

}  // namespace vgpu::queue
