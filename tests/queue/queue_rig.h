// A command queue under test with everything real below it: simulated guest
// RAM (memfd, foreign-mapping semantics), the mapping cache, the CPU
// backend, and SimQueueDriver playing the guest's driver through a port that
// calls the queue's register interface directly (no ioreq transport).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "vgpu/compute/cpu_backend.h"
#include "vgpu/dma/mapping_cache.h"
#include "vgpu/queue/command_queue.h"
#include "vgpu/sim/sim_guest_memory.h"
#include "vgpu/sim/sim_queue_driver.h"

namespace vgpu::testing {

// Forwards to a real backend; while armed, the next data operation blocks
// (after saying so) until open() is called: a long command caught mid-way.
class GatedBackend final : public compute::Backend {
 public:
  explicit GatedBackend(compute::Backend& real) : real_(real) {}

  void arm() {
    std::lock_guard l(m_);
    armed_ = true;
    entered_ = false;
  }
  void wait_entered() {
    std::unique_lock l(m_);
    cv_.wait(l, [&] { return entered_; });
  }
  void open() {
    std::lock_guard l(m_);
    armed_ = false;
    cv_.notify_all();
  }

  uint64_t granule() const override { return real_.granule(); }
  Result<compute::DevAddr> alloc(uint64_t b) override { return real_.alloc(b); }
  vgpu::Status free(compute::DevAddr a) override { return real_.free(a); }
  vgpu::Status reserve(compute::DevAddr a, uint64_t b) override { return real_.reserve(a, b); }
  vgpu::Status copy_in(compute::DevAddr d, std::span<const std::byte> s) override {
    gate();
    return real_.copy_in(d, s);
  }
  vgpu::Status copy_out(std::span<std::byte> d, compute::DevAddr s) override {
    gate();
    return real_.copy_out(d, s);
  }
  vgpu::Status fill(compute::DevAddr d, uint32_t p, uint64_t n) override {
    gate();
    return real_.fill(d, p, n);
  }
  vgpu::Status copy(compute::DevAddr d, compute::DevAddr s, uint64_t n) override {
    gate();
    return real_.copy(d, s, n);
  }
  vgpu::Status saxpy(compute::DevAddr x, compute::DevAddr y, uint64_t n, float a) override {
    gate();
    return real_.saxpy(x, y, n, a);
  }
  Result<uint32_t> crc32c(compute::DevAddr s, uint64_t n, uint32_t c) override {
    gate();
    return real_.crc32c(s, n, c);
  }
  vgpu::Status synchronize() override { return real_.synchronize(); }

 private:
  void gate() {
    std::unique_lock l(m_);
    if (!armed_) return;
    entered_ = true;
    cv_.notify_all();
    cv_.wait(l, [&] { return !armed_; });
  }
  compute::Backend& real_;
  std::mutex m_;
  std::condition_variable cv_;
  bool armed_ = false;
  bool entered_ = false;
};

class DirectPort final : public sim::Bar0Port {
 public:
  explicit DirectPort(queue::CommandQueue& q) : q_(q) {}
  uint64_t read(uint64_t offset, unsigned size) override { return q_.read(offset, size); }
  void write(uint64_t offset, unsigned size, uint64_t value) override {
    q_.write(offset, size, value);
  }

 private:
  queue::CommandQueue& q_;
};

inline std::unique_ptr<compute::CpuBackend> make_backend(uint64_t space = 1ull << 30) {
  auto b = compute::CpuBackend::create_memfd(space);
  if (!b) throw std::runtime_error(b.error().describe());
  return std::move(*b);
}

struct QueueRig {
  explicit QueueRig(queue::QueueConfig config = {}, uint64_t ram_bytes = 192ull << 20,
                    sim::DriverLayout layout = {})
      : ram(ram_bytes),
        dma(ram),
        backend(make_backend()),
        gated(*backend),
        q(dma, gated, config),
        port(q),
        driver(ram, port, layout) {
    q.set_bus_master(true);
  }

  sim::SimGuestMemory ram;
  dma::MappingCache dma;
  std::unique_ptr<compute::CpuBackend> backend;
  GatedBackend gated;
  queue::CommandQueue q;
  DirectPort port;
  sim::SimQueueDriver driver;
};

}  // namespace vgpu::testing
