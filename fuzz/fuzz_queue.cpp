// libFuzzer target: ring contents, scatter lists, register writes and
// doorbell sequences through the real command queue (registers, fetch,
// executor, scatter-list parser, handle table, worker thread) over the real
// mapping cache and CPU backend, with the simulator's guest RAM below.
//
// Input: records of 1 op byte + 15 bytes of operands (+ 64 bytes for op 0):
//   0 put a 64-byte SQ entry at the next slot     5 Bus Master off / on
//   1 register write (offset, size, value)        6 INVALIDATE
//   2 ring SQ_TAIL (value from the record)        7 enable with a sane layout
//   3 write CQ_HEAD (value from the record)       8 read a register
//   4 write 16 bytes of guest RAM (a scatter entry, anywhere)
//
// Invariants (a violation aborts): MEM_FREE <= MEM_TOTAL; SQ_HEAD and the
// completion index stay inside the rings; STATUS is 0, READY, or FATAL with
// a defined reason; the completion ring is only written where completions
// go; after shutdown, no device memory is allocated, no guest page mapped,
// and every unmap matched a map.
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fuzz_hypervisor.h"
#include "vgpu/compute/cpu_backend.h"
#include "vgpu/dma/mapping_cache.h"
#include "vgpu/queue/command_queue.h"

namespace vgpu::fuzz {
namespace {

namespace r = queue::qregs;

constexpr uint64_t kRam = 0x40000;  // 256 KiB of guest RAM
constexpr uint64_t kSq = 0x10000;
constexpr uint64_t kCq = 0x20000;
constexpr uint32_t kEntries = 8;
constexpr uint64_t kMemLimit = 512 << 10;  // long commands exist, but stay small
constexpr size_t kRecord = 16;
constexpr size_t kEntryBytes = sizeof(queue::SubmissionEntry);

uint64_t load(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  std::memcpy(&v, p, n);
  return v;
}

class Harness {
 public:
  Harness() : ram_(kRam), dma_(ram_), backend_(make_backend()), q_(dma_, *backend_, config()) {
    q_.set_bus_master(true);
  }

  ~Harness() {
    q_.shutdown();
    dma_.invalidate();
    if (backend_->live_allocations() != 0) finding("device memory left after shutdown");
    if (ram_.live_mappings() != 0) finding("guest pages left mapped after shutdown");
    if (!ram_.misuse().empty()) finding("an unmap that matched no map");
  }

  // Returns the bytes consumed.
  size_t step(const uint8_t* d, size_t left) {
    const uint8_t op = d[0] % 9;
    const uint8_t* a = d + 1;
    switch (op) {
      case 0: {
        if (left < kRecord + kEntryBytes) return left;
        guest_write(kSq + (sq_slot_++ % kEntries) * kEntryBytes, d + kRecord, kEntryBytes);
        return kRecord + kEntryBytes;
      }
      case 1: {
        static constexpr unsigned kSizes[] = {1, 2, 4, 8};
        q_.write(r::kWindowStart + a[0] % (r::kWindowEnd - r::kWindowStart + 8), kSizes[a[1] % 4],
                 load(a + 2, 8));
        break;
      }
      case 2:
        q_.write(r::kSqTail, 4, a[0] % 16 == 15 ? load(a + 1, 4) : a[0] % kEntries);
        break;
      case 3:
        q_.write(r::kCqHead, 4, a[0] % 16 == 15 ? load(a + 1, 4) : a[0] % kEntries);
        break;
      case 4:
        guest_write(load(a, 3) % kRam & ~uint64_t{15}, a + 3, 12);
        break;
      case 5:
        q_.set_bus_master(a[0] & 1);
        break;
      case 6:
        dma_.invalidate();
        break;
      case 7:
        q_.write(r::kCtrl, 4, 0);
        q_.write(r::kSqBase, 8, kSq);
        q_.write(r::kCqBase, 8, kCq);
        q_.write(r::kSqEntries, 4, kEntries);
        q_.write(r::kCqEntries, 4, kEntries);
        q_.write(r::kCtrl, 4, queue::kCtrlEnable);
        break;
      case 8:
        (void)q_.read(r::kWindowStart + a[0] % 0x80, 1u << (a[1] % 4));
        break;
    }
    q_.take_interrupt();
    check();
    return kRecord;
  }

 private:
  static queue::QueueConfig config() {
    queue::QueueConfig c;
    c.mem_limit = kMemLimit;
    c.max_handles = 16;
    return c;
  }
  static std::unique_ptr<compute::CpuBackend> make_backend() {
    auto b = compute::CpuBackend::create_memfd(4 * kMemLimit);
    if (!b) finding("cannot create the backend");
    return std::move(*b);
  }
  void guest_write(uint64_t gpa, const uint8_t* p, size_t n) {
    (void)ram_.guest_write(gpa, std::as_bytes(std::span(p, n)));
  }

  void check() {
    const auto regs = q_.registers();
    if (q_.read(r::kMemFree, 8) > q_.read(r::kMemTotal, 8)) finding("MEM_FREE above MEM_TOTAL");
    const uint32_t st = regs.status;
    const uint32_t reason = st >> queue::kFatalReasonShift;
    if (st != 0 && st != queue::kStatusReady &&
        !((st & 0xFF) == queue::kStatusFatal && reason >= 1 && reason <= 6))
      finding("QUEUE_STATUS outside its definition");
    if (st == queue::kStatusReady) {
      if (regs.sq_head >= regs.sq_entries || regs.cq_tail >= regs.cq_entries)
        finding("an index left its ring");
    }
  }

  sim::SimGuestMemory ram_;
  dma::MappingCache dma_;
  std::unique_ptr<compute::CpuBackend> backend_;
  queue::CommandQueue q_;
  uint32_t sq_slot_ = 0;
};

}  // namespace
}  // namespace vgpu::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  auto logger =
      std::make_shared<spdlog::logger>("fuzz", std::make_shared<spdlog::sinks::null_sink_mt>());
  logger->set_level(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vgpu::fuzz::Harness harness;
  for (size_t off = 0; off + vgpu::fuzz::kRecord <= size;)
    off += harness.step(data + off, size - off);
  return 0;
}
