// The queue's part of a restart (docs/spec.md §12): what save() writes at
// any instant, restore() in a new queue over the same guest RAM and device
// memory turns back into the same guest-visible queue, and bad saved bytes
// are refused.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <thread>

#include "queue_rig.h"
#include "vgpu/compute/crc32c.h"
#include "vgpu/compute/extent_allocator.h"
#include "vgpu/queue/handle_table.h"

namespace vgpu {
namespace {

using queue::Opcode;
using sim::SimQueueDriver;
using testing::GatedBackend;
namespace r = queue::qregs;

constexpr uint64_t kSpace = 64ull << 20;
constexpr uint64_t kLong = 1ull << 20;  // over the inline limit: runs on the worker

// BAR0 of whichever queue is alive now.
class SwitchPort final : public sim::Bar0Port {
 public:
  queue::CommandQueue* q = nullptr;
  uint64_t read(uint64_t offset, unsigned size) override { return q->read(offset, size); }
  void write(uint64_t offset, unsigned size, uint64_t value) override {
    q->write(offset, size, value);
  }
};

std::unique_ptr<compute::CpuBackend> backend_on(int fd) {
  auto b = compute::CpuBackend::create(::fcntl(fd, F_DUPFD_CLOEXEC, 0), kSpace);
  if (!b) throw std::runtime_error(b.error().describe());
  return std::move(*b);
}

struct Process {  // one daemon's queue over the shared guest RAM and memory file
  Process(sim::SimGuestMemory& ram, int memory_fd)
      : dma(ram), backend(backend_on(memory_fd)), gated(*backend), q(dma, gated, {8ull << 20}) {}
  dma::MappingCache dma;
  std::unique_ptr<compute::CpuBackend> backend;
  GatedBackend gated;
  queue::CommandQueue q;
};

std::vector<std::byte> save(const queue::CommandQueue& q) {
  std::vector<std::byte> bytes;
  StateWriter out(bytes);
  q.save(out);
  return bytes;
}

vgpu::Status restore(queue::CommandQueue& q, const std::vector<std::byte>& bytes) {
  StateReader in(bytes);
  return q.restore(in, true);
}

class QueueRestart : public ::testing::Test {
 protected:
  QueueRestart() : memory_fd(::memfd_create("dev", MFD_CLOEXEC)) {
    first = std::make_unique<Process>(ram, memory_fd);
    first->q.set_bus_master(true);
    port.q = &first->q;
  }
  ~QueueRestart() override { ::close(memory_fd); }

  sim::SimGuestMemory ram{64ull << 20};
  int memory_fd;
  std::unique_ptr<Process> first;
  SwitchPort port;
  SimQueueDriver driver{ram, port};
};

TEST_F(QueueRestart, ACommandRunningAtTheKillRunsAgainInTheNextProcessAndCompletesOnce) {
  ASSERT_EQ(driver.enable(), queue::kStatusReady);
  const uint64_t h = driver.run(SimQueueDriver::entry(Opcode::kAlloc, 1, {kLong})).result;
  const uint64_t mem_free = driver.reg64(r::kMemFree);

  // The FILL is on the worker, stopped in its first chunk: the last save
  // the process made is this one, and then it dies.
  first->gated.arm();
  driver.put(SimQueueDriver::entry(Opcode::kFill, 2, {h, 0, kLong, 0x5A5A5A5A}));
  driver.ring();
  first->gated.wait_entered();
  const std::vector<std::byte> saved = save(first->q);
  // abandon() stops the worker at its next chunk and waits for it; the
  // gate opens once that stop is (almost surely) requested. Either way the
  // next process must run the FILL, since the save says it has not run.
  std::thread dying([&] { first->q.abandon(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  first->gated.open();
  dying.join();
  first.reset();

  Process second(ram, memory_fd);
  port.q = &second.q;
  ASSERT_TRUE(restore(second.q, saved));
  const auto c = driver.poll();
  ASSERT_TRUE(c) << "the FILL completed";
  EXPECT_EQ(second.q.stats().worker_commands, 1u) << "in the next process: it ran again";
  EXPECT_EQ(c->command_id, 2u);
  EXPECT_EQ(c->status_phase >> 1, 0u);
  driver.release();
  EXPECT_FALSE(driver.poll(std::chrono::milliseconds(50))) << "one completion only";
  const auto crc = driver.run(SimQueueDriver::entry(Opcode::kCrc32c, 3, {h, 0, kLong}));
  EXPECT_EQ(crc.result, compute::crc32c_extend(0, std::vector<std::byte>(kLong, std::byte{0x5A})));
  EXPECT_EQ(driver.reg64(r::kMemFree), mem_free) << "the quota charge survived";
  EXPECT_EQ(driver.reg(r::kStatus), queue::kStatusReady);
}

TEST_F(QueueRestart, HandlesAndDeviceMemorySurviveAndStaleHandlesStayStale) {
  ASSERT_EQ(driver.enable(), queue::kStatusReady);
  const uint64_t keep = driver.run(SimQueueDriver::entry(Opcode::kAlloc, 1, {8192})).result;
  const uint64_t gone = driver.run(SimQueueDriver::entry(Opcode::kAlloc, 2, {4096})).result;
  driver.run(SimQueueDriver::entry(Opcode::kFill, 3, {keep, 0, 8192, 0x01020304}));
  driver.run(SimQueueDriver::entry(Opcode::kFree, 4, {gone}));
  const std::vector<std::byte> saved = save(first->q);
  first->q.abandon();
  first.reset();

  Process second(ram, memory_fd);
  port.q = &second.q;
  ASSERT_TRUE(restore(second.q, saved));
  const auto crc = driver.run(SimQueueDriver::entry(Opcode::kCrc32c, 5, {keep, 0, 8192}));
  std::vector<uint32_t> words(2048, 0x01020304);
  EXPECT_EQ(crc.status_phase >> 1, 0u);
  EXPECT_EQ(crc.result, compute::crc32c_extend(0, std::as_bytes(std::span(words))));
  const auto stale = driver.run(SimQueueDriver::entry(Opcode::kFree, 6, {gone}));
  EXPECT_NE(stale.status_phase >> 1, 0u) << "a handle freed before the restart stays invalid";
  const uint64_t fresh = driver.run(SimQueueDriver::entry(Opcode::kAlloc, 7, {4096})).result;
  EXPECT_NE(fresh, gone) << "a new allocation never reuses a stale handle";
  EXPECT_NE(fresh, keep);
}

TEST_F(QueueRestart, InconsistentSavedRegistersAreRefused) {
  ASSERT_EQ(driver.enable(), queue::kStatusReady);
  std::vector<std::byte> saved = save(first->q);
  first->q.abandon();
  first.reset();
  queue::QueueRegisters regs;
  std::memcpy(&regs, saved.data(), sizeof regs);
  regs.sq_head = regs.sq_entries;  // out of the ring
  std::memcpy(saved.data(), &regs, sizeof regs);
  Process second(ram, memory_fd);
  EXPECT_FALSE(restore(second.q, saved));
  saved.resize(sizeof regs - 1);
  Process third(ram, memory_fd);
  EXPECT_FALSE(restore(third.q, saved)) << "truncated";
}

TEST(HandleTableRestore, RefusesEntriesOutOfBoundsOrTwiceInASlot) {
  queue::HandleTable t(1 << 20, 4096, 4);
  t.insert(0, 100, 4096);
  std::vector<std::byte> bytes;
  StateWriter out(bytes);
  t.save(out);
  {
    queue::HandleTable u(1 << 20, 4096, 4);
    StateReader in(bytes);
    ASSERT_TRUE(u.restore(in));
    EXPECT_EQ(u.live(), 1u);
    EXPECT_EQ(u.free(), (1u << 20) - 4096);
  }
  {
    queue::HandleTable small(4096 - 1 + 1, 4096, 4);  // quota of one granule: fits
    StateReader in(bytes);
    EXPECT_TRUE(small.restore(in));
  }
  {
    queue::HandleTable tiny(1 << 20, 4096, 0);  // no handles allowed at all
    StateReader in(bytes);
    EXPECT_FALSE(tiny.restore(in));
  }
  // top generation, live count, one entry: the same entry twice, count 2.
  std::vector<std::byte> twice = bytes;
  twice.insert(twice.end(), bytes.begin() + 8, bytes.end());
  const uint32_t two = 2;
  std::memcpy(twice.data() + 4, &two, sizeof two);
  queue::HandleTable v(1 << 20, 4096, 4);
  StateReader in(twice);
  EXPECT_FALSE(v.restore(in)) << "the same slot twice";
}

TEST(ExtentAllocatorReserve, TakesExactlyTheExtentAndRefusesOverlaps) {
  compute::ExtentAllocator a(1 << 20, 4096);
  EXPECT_TRUE(a.reserve(8192, 100));
  EXPECT_EQ(a.size_of(8192), 4096u);
  EXPECT_FALSE(a.reserve(8192, 4096)) << "taken";
  EXPECT_FALSE(a.reserve(4096, 8192)) << "overlaps";
  EXPECT_FALSE(a.reserve(100, 10)) << "unaligned";
  EXPECT_FALSE(a.reserve((1 << 20) - 4096, 8192)) << "past the end";
  EXPECT_EQ(*a.allocate(4096), 0u) << "the hole before it is still free";
  EXPECT_EQ(*a.allocate(4096), 4096u);
  EXPECT_EQ(*a.allocate(4096), 12288u) << "and the one after";
}

}  // namespace
}  // namespace vgpu
