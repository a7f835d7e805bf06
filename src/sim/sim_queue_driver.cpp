#include "vgpu/sim/sim_queue_driver.h"

#include <atomic>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "vgpu/sim/sim_guest.h"

namespace vgpu::sim {

namespace q = queue;
namespace r = queue::qregs;

uint64_t GuestBar0Port::read(uint64_t offset, unsigned size) {
  return guest_.bar0_read(sbdf_, offset, size);
}

void GuestBar0Port::write(uint64_t offset, unsigned size, uint64_t value) {
  guest_.bar0_write(sbdf_, offset, size, value);
}

SimQueueDriver::SimQueueDriver(SimGuestMemory& ram, Bar0Port& bar, DriverLayout layout)
    : ram_(ram), bar_(bar), layout_(layout) {}

namespace {

void zero(SimGuestMemory& ram, uint64_t gpa, uint64_t len) {
  const std::vector<std::byte> zeros(len);
  if (!ram.guest_write(gpa, zeros)) throw std::out_of_range("driver memory outside guest RAM");
}

}  // namespace

uint32_t SimQueueDriver::enable() {
  zero(ram_, layout_.sq_gpa, uint64_t{layout_.sq_entries} * sizeof(q::SubmissionEntry));
  zero(ram_, layout_.cq_gpa, uint64_t{layout_.cq_entries} * sizeof(q::CompletionEntry));
  bar_.write(r::kSqBase, 8, layout_.sq_gpa);
  bar_.write(r::kCqBase, 8, layout_.cq_gpa);
  set_reg(r::kSqEntries, layout_.sq_entries);
  set_reg(r::kCqEntries, layout_.cq_entries);
  set_reg(r::kCtrl, q::kCtrlEnable);
  sq_tail_ = cq_head_ = 0;
  phase_ = true;
  return status();
}

void SimQueueDriver::disable() {
  set_reg(r::kCtrl, 0);
}

void SimQueueDriver::put(const q::SubmissionEntry& e) {
  const uint64_t at = layout_.sq_gpa + uint64_t{sq_tail_} * sizeof e;
  if (!ram_.guest_write(at, std::as_bytes(std::span(&e, 1))))
    throw std::out_of_range("SQ outside guest RAM");
  sq_tail_ = (sq_tail_ + 1) % layout_.sq_entries;
}

void SimQueueDriver::ring() {
  set_reg(r::kSqTail, sq_tail_);
}

std::optional<q::CompletionEntry> SimQueueDriver::poll(std::chrono::milliseconds timeout) {
  const uint64_t at = layout_.cq_gpa + uint64_t{cq_head_} * sizeof(q::CompletionEntry);
  std::byte* slot = ram_.guest_pointer(at, sizeof(q::CompletionEntry));
  if (slot == nullptr) throw std::out_of_range("CQ outside guest RAM");
  auto* tail = reinterpret_cast<uint32_t*>(slot + q::kCompletionTailOffset);
  const auto deadline = Clock::now() + timeout;
  for (unsigned spins = 0;; ++spins) {
    // Acquire: the device stores this dword last, with release.
    const uint32_t t = std::atomic_ref<uint32_t>(*tail).load(std::memory_order_acquire);
    if (((t >> 16) & 1u) == (phase_ ? 1u : 0u)) break;
    if (Clock::now() > deadline) return std::nullopt;
    if (spins > 64) std::this_thread::yield();
  }
  q::CompletionEntry e;
  std::memcpy(&e, slot, sizeof e);
  if (++cq_head_ == layout_.cq_entries) {
    cq_head_ = 0;
    phase_ = !phase_;
  }
  return e;
}

void SimQueueDriver::release() {
  set_reg(r::kCqHead, cq_head_);
}

q::CompletionEntry SimQueueDriver::run(const q::SubmissionEntry& e) {
  put(e);
  ring();
  auto c = poll();
  if (!c) throw std::runtime_error("no completion within the driver's timeout");
  release();
  return *c;
}

uint64_t SimQueueDriver::write_list(std::span<const std::pair<uint64_t, uint32_t>> entries,
                                    std::optional<uint64_t> at) {
  const uint64_t gpa = at.value_or(layout_.list_gpa);
  std::vector<q::ScatterEntry> list;
  for (const auto& [addr, len] : entries) list.push_back({addr, len, 0});
  if (!ram_.guest_write(gpa, std::as_bytes(std::span(list))))
    throw std::out_of_range("scatter list outside guest RAM");
  return gpa;
}

uint64_t SimQueueDriver::write_list_for(uint64_t gpa, uint64_t len, uint32_t piece) {
  std::vector<std::pair<uint64_t, uint32_t>> entries;
  for (uint64_t done = 0; done < len; done += piece)
    entries.emplace_back(gpa + done, static_cast<uint32_t>(std::min<uint64_t>(piece, len - done)));
  return write_list(entries);
}

q::SubmissionEntry SimQueueDriver::entry(q::Opcode op, uint32_t id,
                                         std::initializer_list<uint64_t> args) {
  q::SubmissionEntry e{};
  e.opcode = static_cast<uint8_t>(op);
  e.command_id = id;
  unsigned i = 0;
  for (uint64_t a : args) {
    if (i < q::kArgs) e.arg[i++] = a;
  }
  return e;
}

}  // namespace vgpu::sim
