// The vCPU side of the ioreq protocol against a responder thread: request
// encoding, routing, concurrency and what a broken server is charged with.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "test_responder.h"
#include "vgpu/pci/regs.h"
#include "vgpu/sim/sim_guest.h"

namespace vgpu::sim {
namespace {

using std::chrono::milliseconds;
using testing::TestResponder;

constexpr pci::Sbdf kDev{0, 0, 5, 0};

TEST(SimProtocol, PciConfigAddressEncodesSbdfAndOffset) {
  SimHypervisor hv;
  TestResponder r(hv, kDev);
  hv.pio_write(0, 0xCF8, 4, 0x80002800 | 0x0C);  // 00:05.0, dword 0x0C
  EXPECT_EQ(hv.pio_read(0, 0xCFE, 1), 0u);       // header type
  hv.pio_write(0, 0xCF8, 4, 0x80002800 | 0x04);
  EXPECT_EQ(hv.pio_read(0, 0xCFE, 2), pci::kStatusCapabilitiesList);
  hv.pio_write(0, 0xCF8, 4, 0x80002800 | 0x3C);
  EXPECT_EQ(hv.pio_read(0, 0xCFD, 1), 0u);  // interrupt pin
  const auto reqs = r.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].type, IOREQ_TYPE_PCI_CONFIG);
  EXPECT_EQ(reqs[0].addr, uint64_t{0x28} << 32 | 0x0E);
  EXPECT_EQ(reqs[0].size, 1u);
  EXPECT_EQ(reqs[0].dir, IOREQ_READ);
  EXPECT_EQ(reqs[0].count, 1u);
  EXPECT_EQ(reqs[1].addr, uint64_t{0x28} << 32 | 0x06);
  EXPECT_EQ(reqs[1].size, 2u);
  EXPECT_EQ(reqs[2].addr, uint64_t{0x28} << 32 | 0x3D);
  EXPECT_TRUE(hv.violations().empty()) << hv.violations()[0];
}

TEST(SimProtocol, OtherSbdfAndDisabledCf8NeverReachTheServer) {
  SimHypervisor hv;
  TestResponder r(hv, kDev);
  hv.pio_write(0, 0xCF8, 4, 0x80003000);  // 00:06.0
  EXPECT_EQ(hv.pio_read(0, 0xCFC, 4), 0xFFFFFFFFu);
  hv.pio_write(0, 0xCF8, 4, 0x00002800);  // enable bit clear
  EXPECT_EQ(hv.pio_read(0, 0xCFC, 4), 0xFFFFFFFFu);
  EXPECT_TRUE(r.requests().empty());
}

TEST(SimProtocol, WritesAreMaskedToSizeAndCarryDirection) {
  SimHypervisor hv;
  TestResponder r(hv, kDev);
  hv.pio_write(0, 0xCF8, 4, 0x8000283C);
  hv.pio_write(0, 0xCFC, 1, 0xABCD0042);
  const auto reqs = r.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].dir, IOREQ_WRITE);
  EXPECT_EQ(reqs[0].data, 0x42u);
  EXPECT_EQ(r.config(pci::kInterruptLine, 1), 0x42u);
}

TEST(SimProtocol, NewestServerGetsTheAccess) {
  SimHypervisor hv;
  TestResponder old_server(hv, kDev, TestResponder::Mode::kCorrect, 0x1111);
  TestResponder new_server(hv, kDev, TestResponder::Mode::kCorrect, 0x2222);
  SimGuest guest(hv);
  EXPECT_EQ(guest.config_read(kDev, pci::kDeviceId, 2), 0x2222u);
  EXPECT_TRUE(old_server.requests().empty());
  ASSERT_TRUE(hv.set_ioreq_server_enabled(new_server.id(), false));
  EXPECT_EQ(guest.config_read(kDev, pci::kDeviceId, 2), 0x1111u);
}

TEST(SimProtocol, RepAndDfRequestsRouteOnTheirWholeSpan) {
  SimHypervisor hv;
  TestResponder r(hv, kDev);
  SimGuest guest(hv);
  guest.config_write(kDev, pci::kBar0, 4, 0xF0000000);
  guest.config_write(kDev, pci::kCommand, 2, pci::kCommandMemorySpace);
  r.clear_requests();
  ioreq_t rep{};
  rep.type = IOREQ_TYPE_COPY;
  rep.addr = 0xF0000FF0;
  rep.size = 4;
  rep.count = 4;  // 0xF0000FF0..0xF0000FFF: inside
  EXPECT_EQ(hv.issue(0, rep).type, IOREQ_TYPE_COPY);
  EXPECT_EQ(r.requests().size(), 1u);
  rep.count = 5;  // runs past the end: the default device model's
  rep.dir = IOREQ_READ;
  EXPECT_EQ(hv.issue(0, rep).data, ~0ull);
  EXPECT_EQ(r.requests().size(), 1u);
  rep.df = 1;  // walks down from 0xF0000FF0: inside again
  hv.issue(0, rep);
  ASSERT_EQ(r.requests().size(), 2u);
  EXPECT_EQ(r.requests()[1].df, 1u);
  EXPECT_EQ(r.requests()[1].count, 5u);
  EXPECT_TRUE(hv.violations().empty());
}

TEST(SimProtocol, InvalidateIsBroadcastToEveryEnabledServer) {
  SimHypervisor hv;
  TestResponder a(hv, kDev);
  TestResponder b(hv, pci::Sbdf{0, 0, 6, 0});
  hv.broadcast_invalidate();
  ASSERT_EQ(a.requests().size(), 1u);
  ASSERT_EQ(b.requests().size(), 1u);
  EXPECT_EQ(a.requests()[0].type, IOREQ_TYPE_INVALIDATE);
  EXPECT_TRUE(hv.violations().empty());
}

TEST(SimProtocol, SilentServerIsReportedAsHungVcpu) {
  SimHypervisor hv(SimConfig{.response_timeout = milliseconds(100)});
  TestResponder r(hv, kDev, TestResponder::Mode::kNeverAnswer);
  const auto start = std::chrono::steady_clock::now();
  SimGuest guest(hv);
  EXPECT_EQ(guest.config_read(kDev, 0, 4), 0xFFFFFFFFu);
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1000));
  ASSERT_EQ(hv.violations().size(), 1u);
  EXPECT_NE(hv.violations()[0].find("vCPU 0 hung"), std::string::npos) << hv.violations()[0];
  EXPECT_EQ(guest.config_read(kDev, 0, 4), 0xFFFFFFFFu);  // the vCPU stays stuck
  EXPECT_EQ(hv.violations().size(), 1u);
}

TEST(SimProtocol, ResponseWithoutNotifyHangsTheVcpu) {
  SimHypervisor hv(SimConfig{.response_timeout = milliseconds(100)});
  TestResponder r(hv, kDev, TestResponder::Mode::kNoNotify);
  SimGuest guest(hv);
  (void)guest.config_read(kDev, 0, 4);
  ASSERT_EQ(hv.violations().size(), 1u);
  EXPECT_NE(hv.violations()[0].find("never notified"), std::string::npos) << hv.violations()[0];
}

TEST(SimProtocol, StateMovingBackwardsCrashesTheDomain) {
  SimHypervisor hv(SimConfig{.response_timeout = milliseconds(1000)});
  TestResponder r(hv, kDev, TestResponder::Mode::kStateBackwards);
  SimGuest guest(hv);
  EXPECT_EQ(guest.config_read(kDev, 0, 4), 0xFFFFFFFFu);
  ASSERT_EQ(hv.violations().size(), 1u);
  EXPECT_NE(hv.violations()[0].find("domain crashed: ioreq state moved backwards"),
            std::string::npos)
      << hv.violations()[0];
  EXPECT_TRUE(hv.domain_crashed());
}

TEST(SimProtocol, SlotNotNoneBeforeARequestCrashesTheDomain) {
  SimHypervisor hv(SimConfig{.response_timeout = milliseconds(1000)});
  TestResponder r(hv, kDev);
  abi::store_state(&r.page()[0], STATE_IORESP_READY);  // a stray server write
  SimGuest guest(hv);
  (void)guest.config_read(kDev, 0, 4);
  ASSERT_EQ(hv.violations().size(), 1u);
  EXPECT_NE(hv.violations()[0].find("bad IO state"), std::string::npos);
}

TEST(SimProtocol, DestroyingTheServerReleasesABlockedVcpu) {
  SimHypervisor hv(SimConfig{.response_timeout = milliseconds(5000)});
  auto r = std::make_unique<TestResponder>(hv, kDev, TestResponder::Mode::kNeverAnswer);
  uint32_t value = 0;
  std::thread vcpu([&] { value = SimGuest(hv).config_read(kDev, 0, 4); });
  while (r->requests().empty()) std::this_thread::sleep_for(milliseconds(1));
  const auto start = std::chrono::steady_clock::now();
  r.reset();  // disables, unbinds and destroys the server
  vcpu.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1000));
  EXPECT_EQ(value, 0xFFFFFFFFu);
  EXPECT_TRUE(hv.violations().empty());
}

TEST(SimProtocol, FourVcpusProbeConcurrently) {
  SimHypervisor hv(SimConfig{.vcpus = 4});
  TestResponder r(hv, kDev);
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (unsigned v = 0; v < 4; ++v) {
    threads.emplace_back([&, v] {
      SimGuest guest(hv, v);
      for (int i = 0; i < 200; ++i) {
        if (guest.config_read(kDev, 0, 4) != 0x11111af4u) ++wrong;
        if (guest.config_read(kDev, pci::kRevisionId, 4) != 0x12000001u) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_TRUE(hv.violations().empty()) << hv.violations()[0];
}

}  // namespace
}  // namespace vgpu::sim
