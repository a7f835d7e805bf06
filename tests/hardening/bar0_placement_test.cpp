// BAR0 placements as a table (docs/spec.md §2): the claimed
// window always equals the BAR the guest decodes, a BAR holding 0 or the
// sizing value claims nothing, and no claim outlives a move or the daemon.
#include <cstdint>
#include <optional>

#include "fixture.h"
#include "vgpu/pci/regs.h"

namespace vgpu::hardening {
namespace {

struct PlacementRow {
  const char* what;
  uint32_t bar;  // value written to BAR0
  bool decode;   // Memory Space bit
  std::optional<hv::MmioRange> claim;
};

constexpr hv::MmioRange window(uint64_t base) {
  return {base, base + kBar0Size - 1};
}

constexpr PlacementRow kPlacements[] = {
    {"normal placement", kBar0, true, window(kBar0)},
    {"decode off", kBar0, false, std::nullopt},
    {"BAR0 = 0, decode on", 0, true, std::nullopt},
    {"BAR0 = all ones, decode on", 0xffffffff, true, std::nullopt},
    {"BAR0 = 0xfffff000 (sizing readback), decode on", 0xfffff000, true, std::nullopt},
    {"unaligned value is truncated to 4 KiB", kBar0 + 0x123, true, window(kBar0)},
    {"top 4 KiB below 4 GiB", 0xffffe000, true, window(0xffffe000)},
    {"over guest RAM", 0x00100000, true, window(0x00100000)},
    {"moved", 0xf0100000, true, window(0xf0100000)},
    {"back to 0 while decoding", 0, true, std::nullopt},
    {"placed again", kBar0, true, window(kBar0)},
};

using Bar0Placement = HardeningTest;

TEST_F(Bar0Placement, ClaimFollowsEveryPlacementExactly) {
  for (const PlacementRow& row : kPlacements) {
    rig.place_bar0(row.bar, row.decode);
    const auto claimed = rig.claimed();
    if (row.claim) {
      ASSERT_EQ(claimed.size(), 1u) << row.what;
      EXPECT_EQ(claimed.front(), *row.claim) << row.what;
    } else {
      EXPECT_TRUE(claimed.empty()) << row.what;
    }
    ASSERT_EQ(rig.health(), "") << row.what;
  }
}

// hvmloader sizes with decode off, Linux sometimes with it on: in neither
// case may the probe value become a claim.
TEST_F(Bar0Placement, SizingWithDecodeOnNeverClaimsTheProbeValue) {
  rig.place_bar0(kBar0, true);
  rig.config_write(pci::kBar0, 4, 0xffffffff);
  EXPECT_EQ(rig.config_read(pci::kBar0, 4), 0xfffff000u);
  rig.config_write(pci::kBar0, 4, kBar0);
  for (const sim::SimCall& c : rig.hv().calls()) {
    if (c.kind == sim::SimCallKind::kMapMmio) {
      EXPECT_LT(c.range.first, 0xfffff000u) << c.to_string();
    }
  }
  ASSERT_EQ(rig.claimed().size(), 1u);
  EXPECT_EQ(rig.claimed().front(), window(kBar0));
}

// A 32-bit BAR cannot go above 4 GiB: the high dword a 64-bit BAR would have
// is BAR1, which is unimplemented and ignores the write.
TEST_F(Bar0Placement, AttemptAbove4GiBLeavesTheBarBelow4GiB) {
  rig.place_bar0(kBar0, true);
  rig.config_write(pci::bar_offset(1), 4, 0x1);
  EXPECT_EQ(rig.config_read(pci::bar_offset(1), 4), 0u);
  ASSERT_EQ(rig.claimed().size(), 1u);
  EXPECT_EQ(rig.claimed().front(), window(kBar0));
  // The alias above 4 GiB is not ours: Xen routes it to the default model.
  EXPECT_EQ(rig.hv().mmio_read(0, 0x1'0000'0000ull + kBar0 + 4, 4), 0xffffffffu);
  EXPECT_EQ(rig.hv().mmio_read(0, kBar0 + 4, 4), 0u);
}

// Another device model (QEMU, the default server) holds a window; the guest
// programs our BAR0 on top of it. Xen allows overlapping claims between
// servers and routes to the newest, so we claim and answer; moving away
// releases exactly our range and leaves the other server's untouched.
class Bar0OverAnotherClaim : public ::testing::Test {
 protected:
  void SetUp() override {
    auto other = rig.hv().create_ioreq_server();
    ASSERT_TRUE(other);
    other_ = *other;
    ASSERT_TRUE(rig.hv().set_ioreq_server_enabled(other_, true));
    ASSERT_TRUE(rig.hv().map_mmio_range(other_, window(kTaken)));
    rig.start();
  }
  void TearDown() override {
    rig.stop();
    EXPECT_EQ(claim_leaks(rig.hv().calls(), rig.id()), "");
    ASSERT_EQ(rig.hv().mmio_ranges(other_).size(), 1u);
    EXPECT_EQ(rig.hv().mmio_ranges(other_).front(), window(kTaken));
  }

  static constexpr uint32_t kTaken = 0xf1000000;
  Rig rig;
  hv::ServerId other_ = 0;
};

TEST_F(Bar0OverAnotherClaim, WeClaimAnswerAndReleaseOnlyOurRange) {
  rig.place_bar0(kTaken, true);
  ASSERT_EQ(rig.claimed().size(), 1u);
  EXPECT_EQ(rig.claimed().front(), window(kTaken));
  EXPECT_EQ(rig.hv().route_mmio(kTaken, kTaken + 3), rig.id());
  EXPECT_EQ(rig.hv().mmio_read(0, kTaken + 4, 4), 0u) << "STATUS IDLE, from us";
  rig.place_bar0(kBar0, true);
  ASSERT_EQ(rig.claimed().size(), 1u);
  EXPECT_EQ(rig.claimed().front(), window(kBar0));
  EXPECT_EQ(rig.health(), "");
}

}  // namespace
}  // namespace vgpu::hardening
