// Test doubles shared by the ioreq and host tests.
#pragma once

#include <gmock/gmock.h>

#include <cstring>
#include <vector>

#include "vgpu/hv/hypervisor.h"
#include "vgpu/ioreq/io_handler.h"

namespace vgpu::testing {

class MockIoHandler : public ioreq::IoHandler {
 public:
  MOCK_METHOD(uint32_t, config_read, (uint32_t, uint32_t, unsigned), (override));
  MOCK_METHOD(void, config_write, (uint32_t, uint32_t, unsigned, uint32_t), (override));
  MOCK_METHOD(uint64_t, mmio_read, (uint64_t, unsigned), (override));
  MOCK_METHOD(void, mmio_write, (uint64_t, unsigned, uint64_t), (override));
};

// Guest RAM as a flat buffer at gpa `base`; accesses outside fail EFAULT.
class FakeGuestMemory : public hv::GuestMemory {
 public:
  explicit FakeGuestMemory(uint64_t base = 0x10000, size_t bytes = 0x3000)
      : base_(base), ram_(bytes) {}

  Status read(uint64_t gpa, std::span<std::byte> out) override {
    if (!inside(gpa, out.size())) return Error{EFAULT, "outside fake RAM"};
    std::memcpy(out.data(), ram_.data() + (gpa - base_), out.size());
    return {};
  }
  Status write(uint64_t gpa, std::span<const std::byte> in) override {
    if (!inside(gpa, in.size())) return Error{EFAULT, "outside fake RAM"};
    std::memcpy(ram_.data() + (gpa - base_), in.data(), in.size());
    ++writes;
    return {};
  }

  template <typename T>
  void put(uint64_t gpa, T v) {
    std::memcpy(ram_.data() + (gpa - base_), &v, sizeof v);
  }
  template <typename T>
  T get(uint64_t gpa) const {
    T v;
    std::memcpy(&v, ram_.data() + (gpa - base_), sizeof v);
    return v;
  }

  unsigned writes = 0;

 private:
  bool inside(uint64_t gpa, size_t n) const {
    return gpa >= base_ && n <= ram_.size() && gpa - base_ <= ram_.size() - n;
  }
  uint64_t base_;
  std::vector<std::byte> ram_;
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
