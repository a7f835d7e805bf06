// Test doubles shared by the ioreq and host tests.
#pragma once

#include <gmock/gmock.h>

#include <cstring>
#include <span>
#include <stdexcept>

#include "vgpu/dma/mapping_cache.h"
#include "vgpu/hv/hypervisor.h"
#include "vgpu/ioreq/io_handler.h"
#include "vgpu/pci/pci_device.h"
#include "vgpu/sim/sim_guest_memory.h"

namespace vgpu::testing {

class MockIoHandler : public ioreq::IoHandler {
 public:
  MOCK_METHOD(uint32_t, config_read, (uint32_t, uint32_t, unsigned), (override));
  MOCK_METHOD(void, config_write, (uint32_t, uint32_t, unsigned, uint32_t), (override));
  MOCK_METHOD(uint64_t, mmio_read, (uint64_t, unsigned), (override));
  MOCK_METHOD(void, mmio_write, (uint64_t, unsigned, uint64_t), (override));
};

// Guest RAM (the simulator's memfd-backed memory, RAM at gpa 0) and the
// mapping cache the daemon puts in front of it.
class FakeGuestMemory {
 public:
  explicit FakeGuestMemory(uint64_t bytes = 0x13000) : ram(bytes), dma(ram) {}

  template <typename T>
  void put(uint64_t gpa, T v) {
    if (!ram.guest_write(gpa, std::as_bytes(std::span(&v, 1)))) throw std::out_of_range("put");
  }
  template <typename T>
  T get(uint64_t gpa) const {
    T v{};
    if (!ram.guest_read(gpa, std::as_writable_bytes(std::span(&v, 1))))
      throw std::out_of_range("get");
    return v;
  }

  sim::SimGuestMemory ram;
  dma::MappingCache dma;
};

// Drops device status reports (tests that do not look at them).
class NullStatusSink final : public pci::StatusSink {
 public:
  void status_changed(std::string_view, std::string_view) override {}
};

// A request as Xen would build it.
inline ioreq_t make_ioreq(uint8_t type, uint8_t dir, uint64_t addr, uint32_t size,
                          uint64_t data = 0, uint32_t count = 1) {
  ioreq_t r{};
  r.type = type;
  r.dir = dir;
  r.addr = addr;
  r.size = size;
  r.data = data;
  r.count = count;
  r.state = STATE_IOREQ_READY;
  return r;
}

}  // namespace vgpu::testing
