// The request trace ring on the real request path: the simulated guest's
// requests, served by the real daemon, land in the ring of the vCPU that made
// them, with the answer the guest got.
#include <gtest/gtest.h>

#include "../support/daemon_thread.h"
#include "vgpu/ioreq/trace_ring.h"
#include "vgpu/pci/regs.h"
#include "vgpu/sim/sim_guest.h"

namespace vgpu {
namespace {

using testing::DaemonThread;
using testing::kSbdf0005;

sim::SimConfig with_vcpus(unsigned n) {
  sim::SimConfig c;
  c.vcpus = n;
  c.response_timeout = std::chrono::milliseconds(2000);
  return c;
}

TEST(TraceRingSim, EachServedRequestIsTracedOnItsVcpuWithTheAnswerTheGuestGot) {
  sim::SimHypervisor hv(with_vcpus(2));
  DaemonThread d(hv);
  sim::SimGuest guest(hv, 1);
  const uint32_t id = guest.config_read(kSbdf0005, pci::kVendorId, 4);
  // The ring is the serving thread's; what it wrote before answering is
  // visible once the answer is (the slot's state is the release/acquire).

  const ioreq::TraceRing& ring = d.daemon().server().trace();
  EXPECT_EQ(ring.vcpus(), 2u);
  EXPECT_EQ(ring.counters(0).taken, 0u);
  EXPECT_EQ(ring.counters(1).taken, 1u);
  const auto all = ring.entries();
  ASSERT_EQ(all.size(), 1u);
  const ioreq::TraceEntry& e = all.front();
  EXPECT_EQ(e.vcpu, 1u);
  EXPECT_EQ(e.type, IOREQ_TYPE_PCI_CONFIG);
  EXPECT_EQ(e.dir, IOREQ_READ);
  EXPECT_EQ(e.size, 4u);
  EXPECT_EQ(e.data_out, id);
  EXPECT_EQ(e.state_at_answer, STATE_IOREQ_INPROCESS);
  EXPECT_EQ(ioreq::TraceRing::anomalies(e), "");
}

TEST(TraceRingSim, AMalformedRequestIsTracedAndItsAnswerFlagged) {
  sim::SimHypervisor hv(with_vcpus(1));
  DaemonThread d(hv);
  ioreq_t r{};
  r.type = IOREQ_TYPE_PCI_CONFIG;
  r.dir = IOREQ_READ;
  r.addr = abi::pci_config_addr(0x28, 0);
  r.size = 3;
  r.count = 1;
  const ioreq_t done = hv.issue(0, r, d.daemon().server_id());

  const auto all = d.daemon().server().trace().entries();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all.front().data_out, done.data);
  const std::string bad = ioreq::TraceRing::anomalies(all.front());
  EXPECT_NE(bad.find("size 3"), std::string::npos) << bad;
}

}  // namespace
}  // namespace vgpu
