// The four requests whose cost without transport the issue asks for, as one
// table so that the Google Benchmark timings and the callgrind instruction
// counts measure exactly the same thing.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "rig.h"
#include "vgpu/device/registers.h"
#include "vgpu/pci/regs.h"

namespace vgpu::bench {

enum class Op { kConfigRead, kBar0Read, kBar0DataWrite, kBar0Move };

struct OpInfo {
  Op op;
  std::string_view name;
  std::string_view what;
};

inline constexpr std::array kOps = {
    OpInfo{Op::kConfigRead, "config_read", "PCI_CONFIG dword read (vendor/device ID)"},
    OpInfo{Op::kBar0Read, "bar0_read", "BAR0 register read (STATUS, 4 bytes)"},
    OpInfo{Op::kBar0DataWrite, "bar0_data_write", "BAR0 DATA write (4 bytes)"},
    OpInfo{Op::kBar0Move, "bar0_move",
           "config write moving BAR0 (unmap old + map new range via Claims)"},
};

// Request i of a stream of `op`; every request is one the guest could issue.
inline ioreq_t op_request(Op op, uint64_t i) {
  switch (op) {
    case Op::kConfigRead:
      return config_request(IOREQ_READ, pci::kVendorId, 4);
    case Op::kBar0Read:
      return make_request(IOREQ_TYPE_COPY, IOREQ_READ, kBar0A + device::regs::kStatus, 4);
    case Op::kBar0DataWrite:
      return make_request(IOREQ_TYPE_COPY, IOREQ_WRITE,
                          kBar0A + device::regs::kData + 4 * (i % (device::regs::kDataSize / 4)), 4,
                          i);
    case Op::kBar0Move:
      // Alternate between two windows so that every write really moves it.
      return config_request(IOREQ_WRITE, pci::kBar0, 4,
                            static_cast<uint32_t>(i % 2 ? kBar0A : kBar0B));
  }
  return {};
}

// The simulator records every control call for tests; a long benchmark
// must not grow that log without bound. The vector holds trivially
// destructible entries, so clearing it is cheap and amortised here.
inline void trim_call_log(PathRig& rig, uint64_t i) {
  if ((i & 0xffff) == 0) rig.hv().clear_calls();
}

}  // namespace vgpu::bench
