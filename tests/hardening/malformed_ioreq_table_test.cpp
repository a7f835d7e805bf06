// Malformed ioreqs as a table: each is sent through the
// real slot handshake and must get its defined answer (a read of nothing is
// all ones; writes are dropped), leave no slot stuck and claim nothing.
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "../support/fakes.h"
#include "fixture.h"
#include "vgpu/device/registers.h"
#include "vgpu/ioreq/dispatcher.h"

namespace vgpu::hardening {
namespace {

namespace regs = device::regs;
using ioreq::Outcome;
using testing::make_ioreq;

enum class Expect { kMalformed, kIgnored, kInvalidated, kHandled, kGuestFault };

struct Row {
  const char* what;
  ioreq_t req;
  Expect expect;
  bool all_ones;  // a read answered with all ones (in its size, or 64 bits)
};

uint64_t cfg(uint32_t offset) {
  return abi::pci_config_addr(kSbdf.packed(), offset);
}

ioreq_t with(ioreq_t r, bool ptr, bool df = false) {
  r.data_is_ptr = ptr;
  r.df = df;
  return r;
}

constexpr uint8_t R = IOREQ_READ;
constexpr uint8_t W = IOREQ_WRITE;
constexpr uint8_t kCfg = IOREQ_TYPE_PCI_CONFIG;
constexpr uint8_t kCopy = IOREQ_TYPE_COPY;
constexpr uint64_t kRam = 0x1000;  // inside the simulated guest's RAM
constexpr uint64_t kNoRam = 0x7fff'ffff'f000;

std::vector<Row> rows() {
  const uint64_t st = kBar0 + regs::kStatus;
  const uint32_t max = ioreq::kMaxRepCount;
  return {
      {"config size 0", make_ioreq(kCfg, R, cfg(0), 0), Expect::kMalformed, true},
      {"config size 3", make_ioreq(kCfg, R, cfg(0), 3), Expect::kMalformed, true},
      {"config size 8", make_ioreq(kCfg, R, cfg(0), 8), Expect::kMalformed, true},
      {"config size 16", make_ioreq(kCfg, R, cfg(0), 16), Expect::kMalformed, true},
      {"config write size 16", make_ioreq(kCfg, W, cfg(4), 16, ~0ull), Expect::kMalformed, false},
      {"config count 0", make_ioreq(kCfg, R, cfg(0), 4, 0, 0), Expect::kMalformed, true},
      {"config count 2", make_ioreq(kCfg, R, cfg(0), 4, 0, 2), Expect::kMalformed, true},
      {"config data_is_ptr", with(make_ioreq(kCfg, R, cfg(0), 4, kRam), true), Expect::kMalformed,
       false},
      {"config offset 0x1000", make_ioreq(kCfg, R, cfg(0x1000), 1), Expect::kMalformed, true},
      {"config dword at 0xffe", make_ioreq(kCfg, R, cfg(0xffe), 4), Expect::kMalformed, true},
      {"config offset ~0", make_ioreq(kCfg, R, cfg(0xffffffff), 4), Expect::kMalformed, true},
      {"config other SBDF", make_ioreq(kCfg, R, abi::pci_config_addr(0x30, 0), 4), Expect::kHandled,
       true},
      {"MMIO size 0", make_ioreq(kCopy, R, st, 0), Expect::kMalformed, true},
      {"MMIO size 3", make_ioreq(kCopy, R, st, 3), Expect::kMalformed, true},
      {"MMIO size 16", make_ioreq(kCopy, R, st, 16), Expect::kMalformed, true},
      {"MMIO write size 16", make_ioreq(kCopy, W, st, 16, ~0ull), Expect::kMalformed, false},
      {"MMIO count 0", make_ioreq(kCopy, R, st, 4, 0, 0), Expect::kMalformed, true},
      {"MMIO count max+1", make_ioreq(kCopy, R, st, 4, 0, max + 1), Expect::kMalformed, true},
      {"MMIO count ~0", make_ioreq(kCopy, W, st, 8, 0, 0xffffffff), Expect::kMalformed, false},
      {"MMIO rep read max count past BAR0", make_ioreq(kCopy, R, kBar0, 8, 0, max),
       Expect::kHandled, true},
      {"MMIO rep write downwards from below BAR0",
       with(make_ioreq(kCopy, W, kBar0 - 4, 4, 7, 64), false, true), Expect::kHandled, false},
      {"MMIO rep write upwards across BAR0's end", make_ioreq(kCopy, W, kBar0 + 0xff8, 4, 7, 64),
       Expect::kHandled, false},
      {"MMIO rep ptr read into RAM", with(make_ioreq(kCopy, R, kBar0, 4, kRam, 16), true),
       Expect::kHandled, false},
      {"MMIO rep ptr read to missing RAM", with(make_ioreq(kCopy, R, kBar0, 4, kNoRam, 4), true),
       Expect::kGuestFault, false},
      {"MMIO rep ptr write from missing RAM", with(make_ioreq(kCopy, W, kBar0, 4, kNoRam, 4), true),
       Expect::kGuestFault, false},
      {"MMIO ptr huge count", with(make_ioreq(kCopy, R, kBar0, 8, kRam, 0xffffffff), true),
       Expect::kMalformed, false},
      {"MMIO address wraps past 2^64", make_ioreq(kCopy, R, ~uint64_t{3}, 4, 0, 2),
       Expect::kHandled, true},
      {"MMIO above 4 GiB", make_ioreq(kCopy, R, 0x1'0000'0000ull + kBar0, 4), Expect::kHandled,
       true},
      {"PIO read", make_ioreq(IOREQ_TYPE_PIO, R, 0xcfc, 4), Expect::kMalformed, true},
      {"PIO write", make_ioreq(IOREQ_TYPE_PIO, W, 0x80, 1, 0x55), Expect::kMalformed, false},
      {"TIMEOFFSET", make_ioreq(IOREQ_TYPE_TIMEOFFSET, W, 0, 8, 12345), Expect::kIgnored, false},
      {"INVALIDATE", make_ioreq(IOREQ_TYPE_INVALIDATE, W, 0, 4, ~0ull), Expect::kInvalidated,
       false},
      {"unknown type 3", make_ioreq(3, R, 0, 4), Expect::kMalformed, true},
      {"unknown type 4", make_ioreq(4, R, 0, 4), Expect::kMalformed, true},
      {"unknown type 5", make_ioreq(5, W, 0, 4), Expect::kMalformed, false},
      {"unknown type 6", make_ioreq(6, R, 0, 4), Expect::kMalformed, true},
      {"unknown type 9", make_ioreq(9, R, 0, 4), Expect::kMalformed, true},
      {"unknown type 0xff", make_ioreq(0xff, R, ~0ull, 0xffffffff, 0, 0xffffffff),
       Expect::kMalformed, true},
  };
}

uint64_t counter(const ioreq::DispatchStats& s, Expect e) {
  switch (e) {
    case Expect::kMalformed:
      return s.malformed;
    case Expect::kIgnored:
      return s.ignored;
    case Expect::kInvalidated:
      return s.invalidations;
    case Expect::kHandled:
      return s.handled;
    case Expect::kGuestFault:
      return s.guest_mem_faults;
  }
  return 0;
}

using MalformedIoreqTable = HardeningTest;

TEST_F(MalformedIoreqTable, EveryRowGetsItsDefinedAnswerAndLeavesNoSlotStuck) {
  rig.place_bar0(kBar0, true);
  const auto claimed = rig.claimed();
  ASSERT_EQ(claimed.size(), 1u);
  for (const Row& row : rows()) {
    const uint64_t before = counter(rig.dispatch_stats(), row.expect);
    const ioreq_t answer = rig.issue(row.req);
    EXPECT_EQ(counter(rig.dispatch_stats(), row.expect), before + 1) << row.what;
    if (row.all_ones) {
      const unsigned size = row.req.size >= 1 && row.req.size <= 8 ? row.req.size : 8;
      EXPECT_EQ(answer.data & ioreq::all_ones(size), ioreq::all_ones(size)) << row.what;
    }
    ASSERT_EQ(rig.health(), "") << row.what;
    EXPECT_EQ(rig.claimed(), claimed) << row.what << " changed the claims";
  }
  // The device's own state survived: STATUS is still IDLE, BAR0 still there.
  EXPECT_EQ(rig.hv().mmio_read(0, kBar0 + regs::kStatus, 4), 0u);
  EXPECT_EQ(rig.config_read(0x10, 4), kBar0);
}

TEST_F(MalformedIoreqTable, ConfigWritesOfBadSizeChangeNothing) {
  for (uint32_t size : {0u, 3u, 5u, 8u, 16u}) {
    rig.issue(make_ioreq(kCfg, W, cfg(0x04), size, ~0ull));
    rig.issue(make_ioreq(kCfg, W, cfg(0x10), size, ~0ull));
    rig.issue(make_ioreq(kCfg, W, cfg(0x3c), size, 0));
  }
  EXPECT_EQ(rig.config_read(0x04, 2), 0u);
  EXPECT_EQ(rig.config_read(0x10, 4), 0u);
  EXPECT_EQ(rig.config_read(0x3c, 1), 0xffu);
  EXPECT_TRUE(rig.claimed().empty());
}

// The same rows from four vCPUs at once: each slot is answered on its own.
TEST(MalformedIoreqTableMultiVcpu, RowsFromFourVcpusAtOnce) {
  Rig rig(4);
  rig.start();
  rig.place_bar0(kBar0, true);
  std::vector<std::thread> vcpus;
  for (unsigned v = 0; v < 4; ++v) {
    vcpus.emplace_back([&rig, v] {
      for (const Row& row : rows()) (void)rig.issue(row.req, v);
    });
  }
  for (auto& t : vcpus) t.join();
  EXPECT_EQ(rig.health(), "");
  rig.stop();
  EXPECT_EQ(claim_leaks(rig.hv().calls(), rig.id()), "");
  EXPECT_EQ(rig.hv().bound_ports(), 0u);
}

}  // namespace
}  // namespace vgpu::hardening
