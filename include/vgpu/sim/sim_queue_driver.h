// SimQueueDriver: a guest driver for the command queue, as the simulated
// guest's software: rings and buffers in simulated guest RAM, registers
// through BAR0 accesses, completions found by polling phase bits. Tests, the
// benchmarks and the --simulate demo drive the whole protocol with it.
//
// It plays the guest, so it trusts nothing the device writes beyond the
// protocol: every wait is bounded.
//
// Thread-compatible: one driver per guest thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "vgpu/pci/sbdf.h"
#include "vgpu/queue/protocol.h"
#include "vgpu/sim/sim_guest_memory.h"

namespace vgpu::sim {

class SimGuest;

// How the driver reaches BAR0.
class Bar0Port {
 public:
  virtual ~Bar0Port() = default;
  virtual uint64_t read(uint64_t offset, unsigned size) = 0;
  virtual void write(uint64_t offset, unsigned size, uint64_t value) = 0;
};

// BAR0 through a simulated vCPU: every access is an MMIO exit to the daemon.
class GuestBar0Port final : public Bar0Port {
 public:
  GuestBar0Port(SimGuest& guest, pci::Sbdf sbdf) : guest_(guest), sbdf_(sbdf) {}
  uint64_t read(uint64_t offset, unsigned size) override;
  void write(uint64_t offset, unsigned size, uint64_t value) override;

 private:
  SimGuest& guest_;
  pci::Sbdf sbdf_;
};

// Where the driver keeps its rings, its scatter list and its buffers, in
// guest-physical memory.
struct DriverLayout {
  uint64_t sq_gpa = 0x100000;
  uint32_t sq_entries = 64;
  uint64_t cq_gpa = 0x110000;
  uint32_t cq_entries = 64;
  uint64_t list_gpa = 0x120000;  // room for a 1024-entry scatter list
  uint64_t data_gpa = 0x200000;  // buffers from here up
};

class SimQueueDriver {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kDefaultTimeout{5000};

  SimQueueDriver(SimGuestMemory& ram, Bar0Port& bar, DriverLayout layout = {});

  // Zeroes the rings, programs bases and sizes, sets ENABLE; returns
  // QUEUE_STATUS as read back.
  uint32_t enable();
  void disable();
  uint32_t status() { return reg(queue::qregs::kStatus); }
  uint32_t reg(uint32_t offset) { return static_cast<uint32_t>(bar_.read(offset, 4)); }
  uint64_t reg64(uint32_t offset) { return bar_.read(offset, 8); }
  void set_reg(uint32_t offset, uint32_t value) { bar_.write(offset, 4, value); }

  // Writes `e` into the next SQ slot (no doorbell).
  void put(const queue::SubmissionEntry& e);
  // Rings SQ_TAIL with everything put() so far.
  void ring();
  // The next completion, once its phase says it is new; nullopt after
  // `timeout`. Consumed locally; release() hands the slots back.
  std::optional<queue::CompletionEntry> poll(std::chrono::milliseconds timeout = kDefaultTimeout);
  void release();
  // put + ring + poll + release: one command, start to end.
  queue::CompletionEntry run(const queue::SubmissionEntry& e);

  // A scatter list at layout.list_gpa (or `at`): {guest address, length}.
  uint64_t write_list(std::span<const std::pair<uint64_t, uint32_t>> entries,
                      std::optional<uint64_t> at = std::nullopt);
  // A list covering [gpa, gpa + len) in pieces of `piece` bytes.
  uint64_t write_list_for(uint64_t gpa, uint64_t len, uint32_t piece = 4096);

  uint32_t sq_tail() const { return sq_tail_; }
  uint32_t cq_head() const { return cq_head_; }
  bool expected_phase() const { return phase_; }
  const DriverLayout& layout() const { return layout_; }
  SimGuestMemory& ram() { return ram_; }

  // Entries, as the spec lays them out.
  static queue::SubmissionEntry entry(queue::Opcode op, uint32_t id,
                                      std::initializer_list<uint64_t> args = {});

 private:
  SimGuestMemory& ram_;
  Bar0Port& bar_;
  DriverLayout layout_;
  uint32_t sq_tail_ = 0;
  uint32_t cq_head_ = 0;
  bool phase_ = true;
};

}  // namespace vgpu::sim
