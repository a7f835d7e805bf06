// The command queue of docs/spec.md Part II: registers at BAR0 0x400-0x47F,
// a submission and a completion ring in guest memory, in-order execution on
// the compute backend, phase-tagged completions, coalesced interrupts.
//
// Threading (docs/queue.md "Threading"). Register accesses, Bus Master
// changes and teardown come from the daemon's event-loop thread. A doorbell
// write runs short commands right there, before it is answered (one exit per
// batch); the first command over kInlineLimitBytes, and everything after it,
// goes to a worker thread the queue owns (started on first need), so that
// long work never holds the vCPU. Whoever executes owns the rings until the
// submission ring is drained; completions stay in submission order. Long
// commands run in chunks and look between chunks at an abort flag that
// disable, Bus Master off and teardown set; those return only once the
// running command has stopped. The worker never touches device state
// outside the queue: it makes event_fd() readable, and the loop then asks
// take_interrupt() whether to raise MSI and state() what to publish.
//
// All queue state is guarded by one mutex; the worker drops it while a long
// command runs.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>

#include "vgpu/common/rate_limiter.h"
#include "vgpu/common/state_buffer.h"
#include "vgpu/compute/backend.h"
#include "vgpu/dma/guest_dma.h"
#include "vgpu/queue/executor.h"
#include "vgpu/queue/handle_table.h"
#include "vgpu/queue/protocol.h"

namespace vgpu::queue {

enum class QueueState : uint8_t { kDisabled, kReady, kFatal };
const char* to_string(QueueState state);

struct QueueConfig {
  uint64_t mem_limit = kDefaultMemLimit;  // MEM_TOTAL
  uint32_t max_handles = kMaxHandles;
};

// The guest-visible registers and ring indices: plain data, so that it
// could live in memory that outlives the process.
struct QueueRegisters {
  uint32_t ctrl = 0;
  uint32_t status = 0;
  uint64_t sq_base = 0;
  uint64_t cq_base = 0;
  uint32_t sq_entries = 0;
  uint32_t cq_entries = 0;
  uint32_t sq_tail = 0;  // as last written
  uint32_t cq_head = 0;  // as last written
  uint32_t sq_head = 0;
  uint32_t completions = 0;
  uint32_t cq_tail = 0;      // next completion slot
  uint32_t cq_released = 0;  // the last CQ_HEAD accepted
  uint32_t phase = 1;        // phase of the current pass through the CQ
};
static_assert(std::is_trivially_copyable_v<QueueRegisters>);

struct QueueStats {
  uint64_t inline_commands = 0;  // run before the doorbell write was answered
  uint64_t worker_commands = 0;
  uint64_t completions = 0;
  uint64_t aborted = 0;
  uint64_t interrupts = 0;  // take_interrupt() that returned true
  uint64_t fatal = 0;
  uint64_t dropped_writes = 0;  // register writes of the wrong size or alignment
};

class CommandQueue {
 public:
  // `dma` and `backend` must outlive the queue. `config.mem_limit` is
  // MEM_TOTAL; Bus Master starts off, as after reset.
  CommandQueue(dma::GuestDma& dma, compute::Backend& backend, QueueConfig config);
  ~CommandQueue();  // shutdown()
  CommandQueue(const CommandQueue&) = delete;
  CommandQueue& operator=(const CommandQueue&) = delete;

  // BAR0 accesses, at BAR0 offsets: only the bytes in 0x400-0x47F are the
  // queue's (others read 0 here). Reads compose any width from the
  // registers. Writes take effect only as 4-byte aligned writes, or 8-byte
  // aligned writes of SQ_BASE / CQ_BASE; others are dropped.
  uint64_t read(uint64_t offset, unsigned size);
  void write(uint64_t offset, unsigned size, uint64_t value);
  // Command.Bus Master as the guest set it. Clearing it while enabled is
  // FATAL (reason 5), once the running command has stopped.
  void set_bus_master(bool on);

  // Readable (an eventfd) when the worker posted completions or the state
  // changed; the loop drains it with clear_event().
  int event_fd() const { return event_fd_; }
  void clear_event();
  // True once after one or more completions were posted: raise MSI.
  bool take_interrupt();
  QueueState state() const;

  // Stops for good: aborts a running command, joins the worker, frees all
  // device memory and unpins the rings. Idempotent.
  void shutdown();

  // Restart (docs/spec.md §12). save() writes the registers and the handle
  // table as of the last completion: a command fetched but not completed is
  // saved as not yet fetched, so that a restarted queue runs it again
  // (at-least-once; every command but SAXPY gives the same result twice).
  // restore() takes a queue just built, checks every saved value (EINVAL),
  // reserves the saved device memory, maps the rings again and runs what
  // the guest submitted meanwhile. `bus_master` is Command.Bus Master as
  // the restored configuration space has it.
  void save(StateWriter& out) const;
  vgpu::Status restore(StateReader& in, bool bus_master);
  // The process is going away without a teardown (a simulated kill -9):
  // the worker stops, device memory and the saved state stay as they are.
  void abandon();

  QueueStats stats() const;
  QueueRegisters registers() const;

 private:
  uint32_t reg32_locked(uint32_t offset) const;
  void write32_locked(std::unique_lock<std::mutex>& lock, uint32_t offset, uint32_t value);
  void write_ctrl_locked(std::unique_lock<std::mutex>& lock, uint32_t value);
  void enable_locked();
  void disable_locked(std::unique_lock<std::mutex>& lock);
  void fatal_locked(std::unique_lock<std::mutex>& lock, FatalReason reason);
  void stop_running_locked(std::unique_lock<std::mutex>& lock, bool post_aborted);
  void sq_doorbell_locked(std::unique_lock<std::mutex>& lock, uint32_t value);
  void cq_doorbell_locked(std::unique_lock<std::mutex>& lock, uint32_t value);
  // Maps both rings as the registers describe them; on failure neither
  // stays mapped.
  bool pin_rings_locked();
  void release_rings_locked();
  // Marks the queue shut down and joins its worker; false if it already was.
  bool stop_for_good();

  // Engine (command_queue_engine.cpp).
  bool ready_locked() const;
  bool can_fetch_locked() const;
  void kick_locked();
  void process_inline_locked();
  std::optional<SubmissionEntry> fetch_locked(dma::DmaSession& session);
  void execute_locked(std::unique_lock<std::mutex>& lock, const SubmissionEntry& e, bool on_worker);
  void post_locked(dma::DmaSession& session, uint32_t command_id, Completion c);
  void worker_main();
  void signal_event();
  void log_guest_error(const char* what, uint64_t value);

  dma::GuestDma& dma_;
  compute::Backend& backend_;
  const QueueConfig config_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // the worker waits for work
  std::condition_variable idle_cv_;  // waiters for the running command to stop
  QueueRegisters regs_;
  HandleTable handles_;
  Executor executor_;
  bool bus_master_ = false;
  std::optional<dma::RingId> sq_ring_;
  std::optional<dma::RingId> cq_ring_;
  // The worker owns the rings until it has drained the submission ring.
  bool worker_owns_ = false;
  std::optional<SubmissionEntry> handoff_;  // fetched by the loop, for the worker
  bool running_ = false;                    // a long command runs unlocked
  std::atomic<bool> abort_{false};
  bool post_aborted_ = false;  // disable: the stopped command completes ABORTED
  bool irq_pending_ = false;
  bool stop_ = false;
  bool shut_down_ = false;
  std::thread worker_;
  int event_fd_ = -1;
  QueueStats stats_;
  RateLimiter log_limiter_;
};

}  // namespace vgpu::queue
