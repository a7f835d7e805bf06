// The command queue against its contract (docs/spec.md Part II): registers,
// enable checks, each opcode, each status code, phase and back-pressure,
// FATAL reasons, disable, Bus Master, INVALIDATE, limits. Everything below
// the queue is real; the guest is SimQueueDriver.
#include <gtest/gtest.h>

#include <bit>
#include <cstring>
#include <numeric>
#include <thread>
#include <vector>

#include "queue_rig.h"
#include "vgpu/compute/crc32c.h"

namespace vgpu::queue {
namespace {

using sim::SimQueueDriver;
using testing::QueueRig;
namespace r = qregs;

constexpr uint64_t kPage = 4096;

SubmissionEntry E(Opcode op, uint32_t id, std::initializer_list<uint64_t> args = {}) {
  return SimQueueDriver::entry(op, id, args);
}
Status status_of(const CompletionEntry& c) {
  return static_cast<Status>(c.status_phase >> 1);
}
unsigned phase_of(const CompletionEntry& c) {
  return c.status_phase & 1u;
}

class QueueTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(rig.driver.enable(), kStatusReady); }

  CompletionEntry run(const SubmissionEntry& e) { return rig.driver.run(e); }
  Status st(const SubmissionEntry& e) { return status_of(run(e)); }
  uint64_t alloc(uint64_t bytes) {
    const auto c = run(E(Opcode::kAlloc, 1, {bytes}));
    EXPECT_EQ(status_of(c), Status::kSuccess);
    return c.result;
  }
  void guest_fill(uint64_t gpa, uint64_t len, uint8_t seed) {
    std::vector<uint8_t> v(len);
    for (uint64_t i = 0; i < len; ++i) v[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 12));
    ASSERT_TRUE(rig.ram.guest_write(gpa, std::as_bytes(std::span(v))));
  }
  std::vector<uint8_t> guest_bytes(uint64_t gpa, uint64_t len) {
    std::vector<uint8_t> v(len);
    EXPECT_TRUE(rig.ram.guest_read(gpa, std::as_writable_bytes(std::span(v))));
    return v;
  }
  // WRITE or READ of [gpa, gpa + len) <-> handle offset 0, 4 KiB entries.
  CompletionEntry move(Opcode op, uint64_t h, uint64_t gpa, uint64_t len) {
    const uint64_t list = rig.driver.write_list_for(gpa, len);
    return run(E(op, 9, {h, 0, len, list, (len + kPage - 1) / kPage}));
  }

  QueueRig rig;
};

// ---- registers -----------------------------------------------------------

TEST(QueueRegisters, ResetValuesAndByteComposedReads) {
  QueueRig rig({.mem_limit = 1ull << 33});
  auto& q = rig.q;
  EXPECT_EQ(q.read(r::kVersion, 4), kQueueVersion);
  EXPECT_EQ(q.read(r::kMaxEntries, 4), kMaxRingEntries);
  EXPECT_EQ(q.read(r::kMemTotal, 8), 1ull << 33);
  EXPECT_EQ(q.read(r::kMemTotal + 4, 4), 2u) << "high half of an 8-byte register";
  EXPECT_EQ(q.read(r::kMemFree, 8), 1ull << 33);
  EXPECT_EQ(q.read(r::kVersion + 2, 1), 1u) << "byte 2 of 0x00010000";
  EXPECT_EQ(q.read(r::kVersion + 2, 2), 1u);
  EXPECT_EQ(q.read(r::kCtrl, 4), 0u);
  EXPECT_EQ(q.read(r::kStatus, 4), 0u);
  EXPECT_EQ(q.read(0x3FC, 8), uint64_t{kQueueVersion} << 32) << "only the bytes at 0x400 up";
  for (uint32_t off = r::kReservedStart; off < r::kWindowEnd; off += 4) {
    q.write(off, 4, ~0u);
    EXPECT_EQ(q.read(off, 4), 0u) << off;
  }
  EXPECT_EQ(q.read(r::kWindowEnd, 4), 0u) << "0x480 up is not the queue's";
  EXPECT_EQ(q.state(), QueueState::kDisabled);
}

TEST(QueueRegisters, BasesAndSizesAreWritableOnlyWhileDisabledAndNarrowWritesAreDropped) {
  QueueRig rig;
  auto& q = rig.q;
  q.write(r::kSqBase, 8, 0x1234'5678'9000ull);
  EXPECT_EQ(q.read(r::kSqBase, 8), 0x1234'5678'9000ull);
  q.write(r::kSqBase + 4, 4, 0);
  EXPECT_EQ(q.read(r::kSqBase, 8), 0x5678'9000ull) << "the high half alone";
  q.write(r::kSqEntries, 2, 64);
  EXPECT_EQ(q.read(r::kSqEntries, 4), 0u) << "a 2-byte write is dropped";
  q.write(r::kSqEntries + 1, 4, 64);
  EXPECT_EQ(q.stats().dropped_writes, 2u);
  ASSERT_EQ(rig.driver.enable(), kStatusReady);
  q.write(r::kSqBase, 8, 0x9000);
  q.write(r::kSqEntries, 4, 8);
  EXPECT_EQ(q.read(r::kSqBase, 8), rig.driver.layout().sq_gpa);
  EXPECT_EQ(q.read(r::kSqEntries, 4), rig.driver.layout().sq_entries);
  EXPECT_EQ(q.read(r::kCtrl, 4), kCtrlEnable);
}

// ---- enable --------------------------------------------------------------

uint32_t fatal(FatalReason reason) {
  return kStatusFatal | uint32_t{static_cast<uint8_t>(reason)} << kFatalReasonShift;
}

struct EnableCase {
  const char* what;
  uint64_t sq_base, cq_base;
  uint32_t sq_entries, cq_entries;
  FatalReason reason;
};

TEST(QueueEnable, EachBadSettingIsFatalWithItsReasonAndDisableClearsIt) {
  const EnableCase cases[] = {
      {"SQ base 0", 0, 0x110000, 64, 64, FatalReason::kBadBase},
      {"CQ base unaligned", 0x100000, 0x110010, 64, 64, FatalReason::kBadBase},
      {"SQ not a power of two", 0x100000, 0x110000, 48, 64, FatalReason::kBadSize},
      {"SQ of 1", 0x100000, 0x110000, 1, 64, FatalReason::kBadSize},
      {"CQ above the maximum", 0x100000, 0x110000, 64, 2048, FatalReason::kBadSize},
      {"CQ smaller than SQ", 0x100000, 0x110000, 64, 32, FatalReason::kBadSize},
      {"SQ outside RAM", 1ull << 40, 0x110000, 64, 64, FatalReason::kRingNotMappable},
      {"CQ runs past RAM", 0x100000, (192ull << 20) - kPage, 64, 1024,
       FatalReason::kRingNotMappable},
  };
  QueueRig rig;
  for (const EnableCase& c : cases) {
    rig.q.write(r::kSqBase, 8, c.sq_base);
    rig.q.write(r::kCqBase, 8, c.cq_base);
    rig.q.write(r::kSqEntries, 4, c.sq_entries);
    rig.q.write(r::kCqEntries, 4, c.cq_entries);
    rig.q.write(r::kCtrl, 4, kCtrlEnable);
    EXPECT_EQ(rig.q.read(r::kStatus, 4), fatal(c.reason)) << c.what;
    EXPECT_EQ(rig.q.state(), QueueState::kFatal) << c.what;
    rig.q.write(r::kCtrl, 4, 0);
    EXPECT_EQ(rig.q.read(r::kStatus, 4), 0u) << c.what;
  }
  EXPECT_EQ(rig.ram.live_mappings(), 0u) << "nothing stays mapped after a failed enable";
}

TEST(QueueEnable, BusMasterOffAtEnableIsFatal5) {
  QueueRig rig;
  rig.q.set_bus_master(false);
  EXPECT_EQ(rig.driver.enable(), fatal(FatalReason::kBusMasterOff));
}

TEST(QueueEnable, EnableResetsTheIndicesAndDoorbellsWhileDisabledAreStoredOnly) {
  QueueRig rig;
  rig.q.write(r::kSqTail, 4, 7);
  EXPECT_EQ(rig.q.read(r::kSqTail, 4), 7u) << "stored";
  EXPECT_EQ(rig.q.read(r::kSqHead, 4), 0u) << "ignored";
  ASSERT_EQ(rig.driver.enable(), kStatusReady);
  EXPECT_EQ(rig.q.read(r::kSqTail, 4), 0u);
  EXPECT_EQ(rig.q.state(), QueueState::kReady);
}

// ---- opcodes -------------------------------------------------------------

TEST_F(QueueTest, NopAndPingCompleteWithIdSqHeadAndPhase) {
  const auto nop = run(E(Opcode::kNop, 0xAAAA0001));
  EXPECT_EQ(status_of(nop), Status::kSuccess);
  EXPECT_EQ(nop.command_id, 0xAAAA0001u);
  EXPECT_EQ(nop.result, 0u);
  EXPECT_EQ(nop.sq_head, 1u);
  EXPECT_EQ(phase_of(nop), 1u) << "first pass";
  const auto ping = run(E(Opcode::kPing, 2, {0x0123456789abcdefull}));
  EXPECT_EQ(ping.result, ~0x0123456789abcdefull);
  EXPECT_EQ(ping.sq_head, 2u);
  EXPECT_EQ(rig.q.read(r::kCompletions, 4), 2u);
  EXPECT_EQ(rig.q.read(r::kSqHead, 4), 2u);
}

TEST_F(QueueTest, UnknownOpcodeNonZeroFlagsAndReservedBytesAreRejected) {
  EXPECT_EQ(st(E(static_cast<Opcode>(0x02), 1)), Status::kInvalidOpcode);
  EXPECT_EQ(st(E(static_cast<Opcode>(0xFF), 1)), Status::kInvalidOpcode);
  auto flagged = E(Opcode::kNop, 1);
  flagged.flags = 1;
  EXPECT_EQ(st(flagged), Status::kInvalidField);
  auto reserved = E(Opcode::kPing, 1);
  reserved.reserved = 0x100;
  EXPECT_EQ(st(reserved), Status::kInvalidField);
}

TEST_F(QueueTest, AllocChargesWholeGranulesReadsZerosAndFreeGivesItBack) {
  const uint64_t total = rig.q.read(r::kMemTotal, 8);
  const uint64_t h = alloc(5000);
  EXPECT_NE(h, 0u);
  EXPECT_EQ(rig.q.read(r::kMemFree, 8), total - 8192);
  guest_fill(0x300000, 5000, 1);
  ASSERT_EQ(status_of(move(Opcode::kRead, h, 0x300000, 5000)), Status::kSuccess);
  const auto back = guest_bytes(0x300000, 5000);
  EXPECT_TRUE(std::all_of(back.begin(), back.end(), [](uint8_t b) { return b == 0; }));
  EXPECT_EQ(st(E(Opcode::kFree, 1, {h})), Status::kSuccess);
  EXPECT_EQ(rig.q.read(r::kMemFree, 8), total);
  EXPECT_EQ(st(E(Opcode::kFree, 1, {h})), Status::kInvalidHandle) << "double free";
  EXPECT_EQ(st(E(Opcode::kFree, 1, {0})), Status::kInvalidHandle);
  EXPECT_EQ(st(E(Opcode::kAlloc, 1, {0})), Status::kInvalidField);
}

TEST_F(QueueTest, ReusedSlotGetsANewHandleAndTheOldOneStaysInvalid) {
  const uint64_t a = alloc(100);
  ASSERT_EQ(st(E(Opcode::kFree, 1, {a})), Status::kSuccess);
  const uint64_t b = alloc(100);
  EXPECT_NE(a, b);
  EXPECT_EQ(st(E(Opcode::kCrc32c, 1, {a, 0, 4})), Status::kInvalidHandle);
  EXPECT_EQ(st(E(Opcode::kCrc32c, 1, {b, 0, 4})), Status::kSuccess);
}

TEST(QueueLimits, QuotaAndHandleLimitAnswerNoMemory) {
  QueueRig rig({.mem_limit = 64 * kPage, .max_handles = 4});
  ASSERT_EQ(rig.driver.enable(), kStatusReady);
  auto run = [&](Opcode op, uint64_t a) { return rig.driver.run(E(op, 1, {a})); };
  EXPECT_EQ(status_of(run(Opcode::kAlloc, 65 * kPage)), Status::kNoMemory) << "over MEM_TOTAL";
  EXPECT_EQ(status_of(run(Opcode::kAlloc, ~0ull)), Status::kNoMemory);
  const auto big = run(Opcode::kAlloc, 60 * kPage);
  ASSERT_EQ(status_of(big), Status::kSuccess);
  EXPECT_EQ(status_of(run(Opcode::kAlloc, 4 * kPage + 1)), Status::kNoMemory) << "over MEM_FREE";
  EXPECT_EQ(status_of(run(Opcode::kAlloc, 4 * kPage)), Status::kSuccess) << "exactly MEM_FREE";
  EXPECT_EQ(rig.q.read(r::kMemFree, 8), 0u);
  ASSERT_EQ(status_of(run(Opcode::kFree, big.result)), Status::kSuccess);
  EXPECT_EQ(status_of(run(Opcode::kAlloc, 1)), Status::kSuccess);
  EXPECT_EQ(status_of(run(Opcode::kAlloc, 1)), Status::kSuccess);
  EXPECT_EQ(status_of(run(Opcode::kAlloc, 1)), Status::kSuccess) << "4 live handles";
  EXPECT_EQ(status_of(run(Opcode::kAlloc, 1)), Status::kNoMemory) << "the handle limit";
}

TEST_F(QueueTest, WriteThenReadRoundTripsThroughPiecesThatCrossPages) {
  const uint64_t h = alloc(3 * kPage);
  guest_fill(0x300000, 10000, 3);
  const std::pair<uint64_t, uint32_t> pieces[] = {
      {0x300000, 100}, {0x300064, 5000}, {0x3013EC, 4900}};  // contiguous, odd splits
  const uint64_t list = rig.driver.write_list(pieces);
  const auto w = run(E(Opcode::kWrite, 5, {h, 100, 10000, list, 3}));
  ASSERT_EQ(status_of(w), Status::kSuccess);
  EXPECT_EQ(w.result, 10000u);
  const std::pair<uint64_t, uint32_t> back[] = {{0x400FF0, 10000}};  // crosses 3 pages
  const uint64_t list2 = rig.driver.write_list(back);
  const auto rd = run(E(Opcode::kRead, 6, {h, 100, 10000, list2, 1}));
  ASSERT_EQ(status_of(rd), Status::kSuccess);
  EXPECT_EQ(guest_bytes(0x400FF0, 10000), guest_bytes(0x300000, 10000));
  EXPECT_FALSE(rig.ram.dirty_pfns().empty()) << "READ marks the guest pages it wrote dirty";
}

struct ListCase {
  const char* what;
  std::vector<ScatterEntry> list;
  uint64_t count;  // entry count the command claims
  uint64_t length;
  Status want;
};

TEST_F(QueueTest, MalformedScatterListsGetTheirStatusAndMoveNothing) {
  const uint64_t h = alloc(8 * kPage);
  const uint64_t end_of_ram = rig.ram.size();
  const std::vector<ListCase> cases = {
      {"zero entries", {{0x300000, 16, 0}}, 0, 16, Status::kInvalidField},
      {"1025 entries", {{0x300000, 16, 0}}, 1025, 16, Status::kInvalidField},
      {"lengths sum short", {{0x300000, 16, 0}, {0x301000, 16, 0}}, 2, 40, Status::kInvalidField},
      {"lengths sum long", {{0x300000, 32, 0}}, 1, 16, Status::kInvalidField},
      {"reserved set", {{0x300000, 16, 1}}, 1, 16, Status::kInvalidField},
      {"entry over unmapped memory", {{end_of_ram - 8, 16, 0}}, 1, 16, Status::kInvalidAddress},
      {"entry far outside RAM", {{1ull << 45, 16, 0}}, 1, 16, Status::kInvalidAddress},
      {"entry wraps the address space", {{~0ull - 7, 16, 0}}, 1, 16, Status::kInvalidAddress},
  };
  for (const ListCase& c : cases) {
    ASSERT_TRUE(
        rig.ram.guest_write(rig.driver.layout().list_gpa, std::as_bytes(std::span(c.list))));
    for (Opcode op : {Opcode::kWrite, Opcode::kRead}) {
      const auto done = run(E(op, 3, {h, 0, c.length, rig.driver.layout().list_gpa, c.count}));
      EXPECT_EQ(status_of(done), c.want) << c.what;
    }
  }
  // The list itself outside RAM, and wrapping.
  EXPECT_EQ(st(E(Opcode::kWrite, 4, {h, 0, 16, end_of_ram - 8, 1})), Status::kInvalidAddress);
  EXPECT_EQ(st(E(Opcode::kWrite, 4, {h, 0, 16, ~0ull - 15, 2})), Status::kInvalidAddress);
  // Bounds checked before the list is read.
  const uint64_t list = rig.driver.write_list_for(0x300000, 16);
  EXPECT_EQ(st(E(Opcode::kWrite, 4, {h, 8 * kPage - 8, 16, list, 1})), Status::kOutOfRange);
  EXPECT_EQ(st(E(Opcode::kWrite, 4, {h, ~0ull, 16, list, 1})), Status::kOutOfRange);
  EXPECT_EQ(st(E(Opcode::kWrite, 4, {h + 1, 0, 16, list, 1})), Status::kInvalidHandle);
  EXPECT_EQ(st(E(Opcode::kRead, 4, {h, 0, kMaxTransferBytes + 1, list, 1})), Status::kInvalidField)
      << "over 64 MiB";
}

TEST_F(QueueTest, FillWritesThePatternAndChecksLengthAndRange) {
  const uint64_t h = alloc(2 * kPage);
  ASSERT_EQ(st(E(Opcode::kFill, 1, {h, 4, 8, 0xFFFFFFFF'DEADBEEFull})), Status::kSuccess);
  ASSERT_EQ(status_of(move(Opcode::kRead, h, 0x300000, 16)), Status::kSuccess);
  const auto b = guest_bytes(0x300000, 16);
  uint32_t w[4];
  std::memcpy(w, b.data(), 16);
  EXPECT_EQ(w[0], 0u);
  EXPECT_EQ(w[1], 0xDEADBEEFu) << "the pattern's high 32 bits are ignored";
  EXPECT_EQ(w[2], 0xDEADBEEFu);
  EXPECT_EQ(w[3], 0u);
  EXPECT_EQ(st(E(Opcode::kFill, 1, {h, 0, 6, 1})), Status::kInvalidField) << "not a multiple of 4";
  EXPECT_EQ(st(E(Opcode::kFill, 1, {h, 2 * kPage - 4, 8, 1})), Status::kOutOfRange);
}

// COPY behaves as memmove over ranges long enough to be done in chunks.
TEST_F(QueueTest, CopyOfOverlappingRangesBehavesLikeMemmoveBothWays) {
  constexpr uint64_t kLen = 3 * (1ull << 20) + 123;
  constexpr uint64_t kSize = kLen + 2 * kPage;
  const uint64_t h = alloc(kSize);
  guest_fill(0x1000000, kSize, 9);
  ASSERT_EQ(status_of(move(Opcode::kWrite, h, 0x1000000, kSize)), Status::kSuccess);
  std::vector<uint8_t> model = guest_bytes(0x1000000, kSize);
  ASSERT_EQ(st(E(Opcode::kCopy, 1, {h, 0, h, 5000, kLen})), Status::kSuccess);  // forward overlap
  std::memmove(model.data() + 5000, model.data(), kLen);
  ASSERT_EQ(st(E(Opcode::kCopy, 2, {h, 7000, h, 3, kLen})), Status::kSuccess);  // backward
  std::memmove(model.data() + 3, model.data() + 7000, kLen);
  ASSERT_EQ(status_of(move(Opcode::kRead, h, 0x2000000, kSize)), Status::kSuccess);
  EXPECT_TRUE(guest_bytes(0x2000000, kSize) == model);
  const uint64_t other = alloc(kPage);
  EXPECT_EQ(st(E(Opcode::kCopy, 1, {h, 0, other, 1, kPage})), Status::kOutOfRange);
  EXPECT_EQ(st(E(Opcode::kCopy, 1, {h, 0, 77, 0, 4})), Status::kInvalidHandle);
}

TEST_F(QueueTest, SaxpyComputesYAsAXPlusYAndChecksBothArrays) {
  constexpr uint64_t kN = 1000;
  const uint64_t x = alloc(kN * 4);
  const uint64_t y = alloc(kN * 4 + 4);
  std::vector<float> xs(kN), ys(kN);
  for (uint64_t i = 0; i < kN; ++i) xs[i] = static_cast<float>(i), ys[i] = 1.5f;
  ASSERT_TRUE(rig.ram.guest_write(0x300000, std::as_bytes(std::span(xs))));
  ASSERT_TRUE(rig.ram.guest_write(0x310000, std::as_bytes(std::span(ys))));
  ASSERT_EQ(status_of(move(Opcode::kWrite, x, 0x300000, kN * 4)), Status::kSuccess);
  ASSERT_EQ(status_of(move(Opcode::kWrite, y, 0x310000, kN * 4)), Status::kSuccess);
  const uint64_t a = 0xFFFFFFFF'00000000ull | std::bit_cast<uint32_t>(2.0f);
  ASSERT_EQ(st(E(Opcode::kSaxpy, 1, {x, y, kN, a})), Status::kSuccess);
  ASSERT_EQ(status_of(move(Opcode::kRead, y, 0x320000, kN * 4)), Status::kSuccess);
  std::vector<float> out(kN);
  ASSERT_TRUE(rig.ram.guest_read(0x320000, std::as_writable_bytes(std::span(out))));
  for (uint64_t i = 0; i < kN; ++i) ASSERT_EQ(out[i], 2.0f * static_cast<float>(i) + 1.5f) << i;
  EXPECT_EQ(st(E(Opcode::kSaxpy, 1, {x, y, kN + 1, a})), Status::kOutOfRange) << "x too short";
  EXPECT_EQ(st(E(Opcode::kSaxpy, 1, {x, y, 1ull << 62, a})), Status::kOutOfRange);
  EXPECT_EQ(st(E(Opcode::kSaxpy, 1, {x, 12345, 1, a})), Status::kInvalidHandle);
}

TEST_F(QueueTest, Crc32cHasTheStandardCheckValueAndChunksLongRanges) {
  const uint64_t h = alloc(3 << 20);
  const char digits[] = "123456789";
  ASSERT_TRUE(rig.ram.guest_write(0x300000, std::as_bytes(std::span(digits, 9))));
  ASSERT_EQ(status_of(move(Opcode::kWrite, h, 0x300000, 9)), Status::kSuccess);
  const auto c = run(E(Opcode::kCrc32c, 1, {h, 0, 9}));
  ASSERT_EQ(status_of(c), Status::kSuccess);
  EXPECT_EQ(c.result, compute::kCrc32cCheck);
  guest_fill(0x1000000, 3 << 20, 5);
  ASSERT_EQ(status_of(move(Opcode::kWrite, h, 0x1000000, 3 << 20)), Status::kSuccess);
  const auto data = guest_bytes(0x1000000, 3 << 20);
  const auto want = compute::crc32c_extend(0, std::as_bytes(std::span(data)).subspan(10));
  const auto lc = run(E(Opcode::kCrc32c, 2, {h, 10, (3 << 20) - 10}));
  EXPECT_EQ(lc.result, want);
  EXPECT_EQ(st(E(Opcode::kCrc32c, 1, {h, 1, 3 << 20})), Status::kOutOfRange);
}

// ---- ring mechanics ------------------------------------------------------

TEST(QueueRing, PhaseFlipsOnEveryPassThroughTheCompletionRing) {
  sim::DriverLayout layout;
  layout.sq_entries = 2;
  layout.cq_entries = 4;
  QueueRig rig({}, 192ull << 20, layout);
  ASSERT_EQ(rig.driver.enable(), kStatusReady);
  for (uint32_t i = 0; i < 4 * 5; ++i) {  // five passes
    const auto c = rig.driver.run(E(Opcode::kPing, i, {i}));
    ASSERT_EQ(c.command_id, i);
    ASSERT_EQ(phase_of(c), (i / 4) % 2 == 0 ? 1u : 0u) << "completion " << i;
    ASSERT_EQ(c.sq_head, (i + 1) % 2);
  }
  EXPECT_EQ(rig.q.read(r::kCompletions, 4), 20u);
}

// A full completion ring (N - 1 unreleased) pauses fetching; nothing is
// overwritten; releasing slots resumes it.
TEST(QueueRing, AFullCompletionRingPausesFetchingUntilCqHeadMoves) {
  sim::DriverLayout layout;
  layout.sq_entries = 8;
  layout.cq_entries = 8;
  QueueRig rig({}, 192ull << 20, layout);
  auto& d = rig.driver;
  ASSERT_EQ(d.enable(), kStatusReady);
  for (uint32_t i = 0; i < 7; ++i) d.put(E(Opcode::kPing, i, {i}));
  d.ring();
  for (uint32_t i = 0; i < 7; ++i) ASSERT_TRUE(d.poll()) << i;
  EXPECT_EQ(rig.q.read(r::kCompletions, 4), 7u);
  for (uint32_t i = 7; i < 10; ++i) d.put(E(Opcode::kPing, i, {i}));
  d.ring();
  EXPECT_EQ(rig.q.read(r::kCompletions, 4), 7u) << "CQ full: nothing fetched";
  EXPECT_EQ(rig.q.read(r::kSqHead, 4), 7u);
  EXPECT_FALSE(d.poll(std::chrono::milliseconds(20)));
  CompletionEntry slot0;
  ASSERT_TRUE(rig.ram.guest_read(layout.cq_gpa, std::as_writable_bytes(std::span(&slot0, 1))));
  EXPECT_EQ(slot0.command_id, 0u) << "the unreleased completion is intact";
  d.release();  // CQ_HEAD = 7
  for (uint32_t i = 7; i < 10; ++i) {
    auto c = d.poll();
    ASSERT_TRUE(c) << i;
    EXPECT_EQ(c->command_id, i);
  }
  EXPECT_EQ(rig.q.read(r::kCompletions, 4), 10u);
}

TEST_F(QueueTest, OneBatchOfShortCommandsRaisesOneInterrupt) {
  EXPECT_FALSE(rig.q.take_interrupt());
  for (uint32_t i = 0; i < 8; ++i) rig.driver.put(E(Opcode::kNop, i));
  rig.driver.ring();
  EXPECT_EQ(rig.q.read(r::kCompletions, 4), 8u) << "all done before the doorbell returned";
  EXPECT_TRUE(rig.q.take_interrupt());
  EXPECT_FALSE(rig.q.take_interrupt());
  EXPECT_EQ(rig.q.stats().inline_commands, 8u);
}

// ---- fatal ---------------------------------------------------------------

TEST_F(QueueTest, DoorbellValuesOutOfRangeAreFatal4) {
  rig.q.write(r::kSqTail, 4, rig.driver.layout().sq_entries);
  EXPECT_EQ(rig.q.read(r::kStatus, 4), fatal(FatalReason::kDoorbellRange));
  EXPECT_EQ(rig.q.read(r::kSqTail, 4), rig.driver.layout().sq_entries) << "reads the value";
  rig.q.write(r::kSqTail, 4, 1);
  EXPECT_EQ(rig.q.read(r::kSqHead, 4), 0u) << "FATAL: doorbells are ignored";
  ASSERT_EQ(rig.driver.enable(), fatal(FatalReason::kDoorbellRange)) << "ENABLE was still 1";
  rig.driver.disable();
  ASSERT_EQ(rig.driver.enable(), kStatusReady);
  rig.q.write(r::kCqHead, 4, 1000);
  EXPECT_EQ(rig.q.read(r::kStatus, 4), fatal(FatalReason::kDoorbellRange));
}

TEST_F(QueueTest, CqHeadReleasingUnpostedCompletionsIsFatal6) {
  run(E(Opcode::kNop, 1));
  rig.q.write(r::kCqHead, 4, 1);  // fine: one posted
  EXPECT_EQ(rig.q.state(), QueueState::kReady);
  rig.q.write(r::kCqHead, 4, 3);
  EXPECT_EQ(rig.q.read(r::kStatus, 4), fatal(FatalReason::kCqHeadAhead));
}

// ---- long commands, disable, Bus Master, INVALIDATE -----------------------

class LongCommandTest : public QueueTest {
 protected:
  // A FILL of 4 MiB that the worker starts and then sits in, gated.
  uint64_t start_gated_fill() {
    const uint64_t h = alloc(4 << 20);
    rig.gated.arm();
    rig.driver.put(E(Opcode::kFill, 77, {h, 0, 4 << 20, 0x55}));
    rig.driver.put(E(Opcode::kNop, 78));  // behind it: must wait its turn
    rig.driver.ring();                    // returns: the FILL runs after the answer
    rig.gated.wait_entered();
    return h;
  }
  CompletionEntry slot(uint32_t i) {
    CompletionEntry c{};
    EXPECT_TRUE(rig.ram.guest_read(rig.driver.layout().cq_gpa + i * sizeof c,
                                   std::as_writable_bytes(std::span(&c, 1))));
    return c;
  }
  // Opens the gate from another thread once the caller is blocked.
  std::thread open_later() {
    return std::thread([this] {
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
      rig.gated.open();
    });
  }
};

TEST_F(LongCommandTest, TheDoorbellIsAnsweredBeforeALongCommandRunsAndOrderIsKept) {
  start_gated_fill();
  EXPECT_EQ(rig.q.read(r::kCompletions, 4), 1u) << "only the ALLOC; the FILL is running";
  EXPECT_EQ(rig.q.read(r::kSqHead, 4), 2u) << "register reads are served meanwhile";
  rig.gated.open();
  auto fill = rig.driver.poll();
  auto nop = rig.driver.poll();
  ASSERT_TRUE(fill && nop);
  EXPECT_EQ(fill->command_id, 77u);
  EXPECT_EQ(status_of(*fill), Status::kSuccess);
  EXPECT_EQ(nop->command_id, 78u) << "completions in submission order";
  EXPECT_GE(rig.q.stats().worker_commands, 2u);
}

TEST_F(LongCommandTest, DisableAbortsTheRunningCommandDropsTheRestAndFreesMemory) {
  start_gated_fill();
  auto opener = open_later();
  rig.driver.disable();  // returns only once the FILL has stopped
  opener.join();
  const CompletionEntry fill = slot(1);
  EXPECT_EQ(fill.command_id, 77u);
  EXPECT_EQ(status_of(fill), Status::kAborted);
  EXPECT_EQ(slot(2).status_phase, 0u) << "the NOP behind it was dropped, not completed";
  EXPECT_EQ(rig.q.read(r::kStatus, 4), 0u);
  EXPECT_EQ(rig.q.read(r::kSqHead, 4), 0u);
  EXPECT_EQ(rig.q.read(r::kCompletions, 4), 0u);
  EXPECT_EQ(rig.q.read(r::kMemFree, 8), rig.q.read(r::kMemTotal, 8));
  EXPECT_EQ(rig.backend->live_allocations(), 0u);
  EXPECT_EQ(rig.ram.live_mappings(), 0u) << "every mapping dropped on disable";
  EXPECT_EQ(rig.q.stats().aborted, 1u);
  ASSERT_EQ(rig.driver.enable(), kStatusReady) << "and it can be enabled again";
  EXPECT_EQ(rig.driver.run(E(Opcode::kPing, 5, {0})).result, ~0ull);
}

TEST_F(LongCommandTest, ClearingBusMasterMidStreamIsFatal5AndNothingMoreIsPosted) {
  start_gated_fill();
  auto opener = open_later();
  rig.q.set_bus_master(false);
  opener.join();
  EXPECT_EQ(rig.q.read(r::kStatus, 4), fatal(FatalReason::kBusMasterOff));
  EXPECT_EQ(slot(1).status_phase, 0u) << "rings are off limits: no completion";
  EXPECT_EQ(rig.q.read(r::kCompletions, 4), 1u);
}

// INVALIDATE while a transfer runs: it waits for the chunk in flight, drops
// every mapping, and the transfer goes on through fresh ones.
TEST_F(QueueTest, InvalidateMidTransferRemapsAndTheDataStillArrives) {
  constexpr uint64_t kLen = 3 << 20;
  const uint64_t h = alloc(kLen);
  guest_fill(0x1000000, kLen, 11);
  const uint64_t list = rig.driver.write_list_for(0x1000000, kLen, 1 << 20);
  rig.gated.arm();
  rig.driver.put(E(Opcode::kWrite, 1, {h, 0, kLen, list, 3}));
  rig.driver.ring();
  rig.gated.wait_entered();
  const uint64_t unmaps_before = rig.ram.unmap_calls();
  std::thread opener([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    rig.gated.open();
  });
  rig.dma.invalidate();  // waits for the chunk holding the mapping
  opener.join();
  EXPECT_GT(rig.ram.unmap_calls(), unmaps_before);
  auto c = rig.driver.poll();
  ASSERT_TRUE(c);
  EXPECT_EQ(status_of(*c), Status::kSuccess);
  rig.driver.release();
  ASSERT_EQ(status_of(move(Opcode::kRead, h, 0x2000000, kLen)), Status::kSuccess);
  EXPECT_TRUE(guest_bytes(0x2000000, kLen) == guest_bytes(0x1000000, kLen));
  EXPECT_TRUE(rig.ram.misuse().empty());
}

TEST_F(LongCommandTest, ShutdownWithACommandRunningJoinsTheWorkerAndFreesEverything) {
  start_gated_fill();
  auto opener = open_later();
  rig.q.shutdown();
  opener.join();
  EXPECT_EQ(rig.backend->live_allocations(), 0u);
  EXPECT_EQ(rig.q.state(), QueueState::kDisabled);
  rig.q.write(r::kCtrl, 4, kCtrlEnable);  // after shutdown: nothing happens
  EXPECT_EQ(rig.q.state(), QueueState::kDisabled);
}

}  // namespace
}  // namespace vgpu::queue
