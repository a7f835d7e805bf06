#include "vgpu/ioreq/trace_ring.h"

#include <gtest/gtest.h>

#include <string>

#include "../support/fakes.h"

namespace vgpu::ioreq {
namespace {

using vgpu::testing::make_ioreq;

// Plays the server's part for one request: take it, answer with `reply`
// (reads only), leave the slot INPROCESS as serve() does.
TraceEntry serve_one(TraceRing& ring, unsigned vcpu, ioreq_t slot, uint64_t reply = 0) {
  TraceEntry& e = ring.taken(vcpu, slot);
  abi::store_state(&slot, STATE_IOREQ_INPROCESS);
  if (slot.dir == IOREQ_READ) slot.data = reply;
  TraceRing::answered(e, &slot);
  return e;
}

constexpr uint32_t kSbdf0005 = 0x28;
constexpr uint64_t kBar = 0xf0000000;

TEST(TraceRing, RecordsTheRequestAndTheAnswerLeftInTheSlot) {
  TraceRing ring(2);
  const TraceEntry e = serve_one(
      ring, 1,
      make_ioreq(IOREQ_TYPE_PCI_CONFIG, IOREQ_READ, abi::pci_config_addr(kSbdf0005, 0x10), 4),
      0xfffff000);
  EXPECT_EQ(e.seq, 1u);
  EXPECT_EQ(e.vcpu, 1u);
  EXPECT_EQ(e.type, IOREQ_TYPE_PCI_CONFIG);
  EXPECT_EQ(e.dir, IOREQ_READ);
  EXPECT_EQ(e.addr, abi::pci_config_addr(kSbdf0005, 0x10));
  EXPECT_EQ(e.size, 4u);
  EXPECT_EQ(e.count, 1u);
  EXPECT_EQ(e.data_out, 0xfffff000u);
  EXPECT_EQ(e.state_seen, STATE_IOREQ_READY);
  EXPECT_EQ(e.state_at_answer, STATE_IOREQ_INPROCESS);
  EXPECT_TRUE(e.answered);
  EXPECT_EQ(TraceRing::anomalies(e), "");
  ASSERT_EQ(ring.entries().size(), 1u);
  EXPECT_EQ(ring.counters(1).taken, 1u);
  EXPECT_EQ(ring.counters(0).taken, 0u);
}

TEST(TraceRing, KeepsOnlyTheLastDepthEntriesPerVcpu) {
  TraceRing ring(1);
  const unsigned n = TraceRing::kDepth + 5;
  for (unsigned i = 0; i < n; ++i)
    serve_one(ring, 0, make_ioreq(IOREQ_TYPE_COPY, IOREQ_WRITE, kBar + 4 * i, 4, i));
  const auto all = ring.entries();
  ASSERT_EQ(all.size(), TraceRing::kDepth);
  EXPECT_EQ(all.front().seq, 6u);
  EXPECT_EQ(all.back().seq, n);
  EXPECT_EQ(all.back().addr, kBar + 4 * (n - 1));
  EXPECT_EQ(ring.counters(0).taken, n);
}

TEST(TraceRing, MergesVcpusInTheOrderRequestsWereTaken) {
  TraceRing ring(3);
  serve_one(ring, 2, make_ioreq(IOREQ_TYPE_COPY, IOREQ_READ, kBar, 4), 1);
  serve_one(ring, 0, make_ioreq(IOREQ_TYPE_COPY, IOREQ_READ, kBar + 4, 4), 2);
  serve_one(ring, 2, make_ioreq(IOREQ_TYPE_COPY, IOREQ_READ, kBar + 8, 4), 3);
  const auto all = ring.entries();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].vcpu, 2u);
  EXPECT_EQ(all[1].vcpu, 0u);
  EXPECT_EQ(all[2].data_out, 3u);
}

TEST(TraceRing, FlagsReadDataBeyondTheAccessSize) {
  TraceRing ring(1);
  const auto e = serve_one(ring, 0, make_ioreq(IOREQ_TYPE_COPY, IOREQ_READ, kBar, 2), 0x1'0000);
  EXPECT_NE(TraceRing::anomalies(e).find("beyond the access size"), std::string::npos);
  const auto ok = serve_one(ring, 0, make_ioreq(IOREQ_TYPE_COPY, IOREQ_READ, kBar, 8), ~0ull);
  EXPECT_EQ(TraceRing::anomalies(ok), "");
}

TEST(TraceRing, FlagsSizesAndCountsTheTypeDoesNotAllow) {
  TraceRing ring(1);
  auto cfg8 = serve_one(
      ring, 0,
      make_ioreq(IOREQ_TYPE_PCI_CONFIG, IOREQ_READ, abi::pci_config_addr(kSbdf0005, 0), 8));
  EXPECT_NE(TraceRing::anomalies(cfg8).find("size 8"), std::string::npos);
  auto cfg_rep = serve_one(
      ring, 0,
      make_ioreq(IOREQ_TYPE_PCI_CONFIG, IOREQ_WRITE, abi::pci_config_addr(kSbdf0005, 4), 2, 0, 2));
  EXPECT_NE(TraceRing::anomalies(cfg_rep).find("count 2"), std::string::npos);
  auto mmio3 = serve_one(ring, 0, make_ioreq(IOREQ_TYPE_COPY, IOREQ_WRITE, kBar, 3));
  EXPECT_NE(TraceRing::anomalies(mmio3).find("size 3"), std::string::npos);
  // A broadcast's fields mean nothing: no size or count complaints.
  auto inval = serve_one(ring, 0, make_ioreq(IOREQ_TYPE_INVALIDATE, IOREQ_WRITE, 0, 0, 0, 0));
  EXPECT_EQ(TraceRing::anomalies(inval), "");
}

TEST(TraceRing, FlagsASlotWhoseStateChangedWhileWeHeldIt) {
  TraceRing ring(1);
  ioreq_t slot = make_ioreq(IOREQ_TYPE_COPY, IOREQ_READ, kBar, 4);
  TraceEntry& e = ring.taken(0, slot);
  abi::store_state(&slot, STATE_IORESP_READY);  // as if answered twice
  TraceRing::answered(e, &slot);
  EXPECT_NE(TraceRing::anomalies(e).find("became IORESP_READY"), std::string::npos);
}

TEST(TraceRing, FlagsAWriteWhoseSlotDataWeChanged) {
  TraceRing ring(1);
  ioreq_t slot = make_ioreq(IOREQ_TYPE_COPY, IOREQ_WRITE, kBar, 4, 0x1234);
  TraceEntry& e = ring.taken(0, slot);
  abi::store_state(&slot, STATE_IOREQ_INPROCESS);
  slot.data = 0x5678;
  TraceRing::answered(e, &slot);
  EXPECT_NE(TraceRing::anomalies(e).find("data changed"), std::string::npos);
}

TEST(TraceRing, AnEntryTakenButNeverAnsweredIsFlagged) {
  TraceRing ring(1);
  const TraceEntry e = ring.taken(0, make_ioreq(IOREQ_TYPE_COPY, IOREQ_READ, kBar, 4));
  EXPECT_NE(TraceRing::anomalies(e).find("not answered"), std::string::npos);
}

TEST(TraceRing, CountsWakeUpsThatFoundTheSlotNotReady) {
  TraceRing ring(2);
  ring.not_ready(1, STATE_IORESP_READY);
  ring.not_ready(1, STATE_IOREQ_NONE);
  EXPECT_EQ(ring.counters(1).not_ready, 2u);
  EXPECT_EQ(ring.counters(1).last_not_ready_state, STATE_IOREQ_NONE);
  EXPECT_EQ(ring.counters(0).not_ready, 0u);
  EXPECT_TRUE(ring.entries().empty());
}

TEST(TraceRing, DumpHasAHeaderEachVcpuAndEachEntryOldestFirst) {
  TraceRing ring(2);
  serve_one(ring, 0,
            make_ioreq(IOREQ_TYPE_PCI_CONFIG, IOREQ_READ, abi::pci_config_addr(kSbdf0005, 0), 4),
            0x11111af4);
  serve_one(ring, 1, make_ioreq(IOREQ_TYPE_COPY, IOREQ_READ, kBar + 4, 2), 0x1'0002);
  const auto lines = ring.dump_lines("test");
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_NE(lines[0].find("request trace (test): last 2 request(s)"), std::string::npos);
  EXPECT_NE(lines[1].find("trace v0: 1 taken"), std::string::npos);
  EXPECT_NE(lines[2].find("trace v1: 1 taken"), std::string::npos);
  EXPECT_NE(lines[3].find("#1 v0"), std::string::npos);
  EXPECT_NE(lines[3].find("PCI_CONFIG read sbdf=0x28 reg=0x0 size=4"), std::string::npos);
  EXPECT_NE(lines[3].find("out=0x11111af4 IOREQ_READY->INPROCESS"), std::string::npos);
  EXPECT_EQ(lines[3].find("ANOMALY"), std::string::npos);
  EXPECT_NE(lines[4].find("#2 v1"), std::string::npos);
  EXPECT_NE(lines[4].find("COPY read addr=0xf0000004 size=2"), std::string::npos);
  EXPECT_NE(lines[4].find("ANOMALY: read data beyond the access size"), std::string::npos);
  EXPECT_EQ(ring.dump("test"), 1u);
}

}  // namespace
}  // namespace vgpu::ioreq
