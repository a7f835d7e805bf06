// The simulated hypervisor's daemon-side rules (ids, claims, ports, pages),
// checked without a responder thread.
#include "vgpu/sim/sim_hypervisor.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <thread>

namespace vgpu::sim {
namespace {

constexpr pci::Sbdf kDev{0, 0, 5, 0};

template <typename T>
T ok(Result<T> r) {
  EXPECT_TRUE(r.ok()) << r.error().describe();
  return std::move(r).value();
}

int code(const Status& s) {
  return s ? 0 : s.error().code;
}

bool readable(int fd) {
  pollfd pfd{fd, POLLIN, 0};
  return ::poll(&pfd, 1, 0) == 1;
}

TEST(SimHypervisor, ServerIdsAreLowestFreeSlotOfEight) {
  SimHypervisor hv;
  for (hv::ServerId i = 0; i < 8; ++i) EXPECT_EQ(ok(hv.create_ioreq_server()), i);
  auto full = hv.create_ioreq_server();
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, ENOSPC);
  ASSERT_TRUE(hv.destroy_ioreq_server(3));
  EXPECT_EQ(ok(hv.create_ioreq_server()), 3);
  EXPECT_EQ(code(hv.destroy_ioreq_server(42)), ENOENT);
}

TEST(SimHypervisor, VpEportIsPublishedOnlyWhenEnabled) {
  SimHypervisor hv(SimConfig{.vcpus = 2});
  const auto id = ok(hv.create_ioreq_server());
  ioreq_t* page = ok(hv.map_ioreq_page(id));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(page) % 4096, 0u);
  EXPECT_EQ(page[0].vp_eport, 0u);
  EXPECT_EQ(page[1].vp_eport, 0u);
  auto early = hv.event_channels().bind(page[0].vp_eport);
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.error().code, EINVAL);

  ASSERT_TRUE(hv.set_ioreq_server_enabled(id, true));
  EXPECT_NE(page[0].vp_eport, 0u);
  EXPECT_NE(page[1].vp_eport, page[0].vp_eport);
  const hv::Port local = ok(hv.event_channels().bind(page[0].vp_eport));
  EXPECT_NE(local, page[0].vp_eport);  // local and remote numbering differ
  EXPECT_EQ(hv.event_channels().bind(page[0].vp_eport).error().code, EINVAL);  // twice
  EXPECT_EQ(hv.bound_ports(), 1u);
  ASSERT_TRUE(hv.event_channels().unbind(local));
  EXPECT_EQ(hv.bound_ports(), 0u);
  hv.unmap_ioreq_page(page);
  EXPECT_EQ(hv.mapped_pages(), 0u);
  auto unknown = hv.map_ioreq_page(7);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, EINVAL);
}

TEST(SimHypervisor, RangeRulesFollowXen) {
  SimHypervisor hv;
  const auto a = ok(hv.create_ioreq_server());
  const auto b = ok(hv.create_ioreq_server());
  const hv::MmioRange bar{0xF0000000, 0xF0000FFF};
  EXPECT_EQ(code(hv.map_mmio_range(a, {0x2000, 0x1000})), EINVAL);
  EXPECT_EQ(code(hv.map_mmio_range(a, bar)), 0);
  EXPECT_EQ(code(hv.map_mmio_range(a, {0xF0000800, 0xF00017FF})), EEXIST);
  EXPECT_EQ(code(hv.map_mmio_range(b, bar)), 0);  // other server: allowed
  EXPECT_EQ(code(hv.unmap_mmio_range(a, {0xF0000000, 0xF00007FF})), ENOENT);  // partial
  EXPECT_EQ(code(hv.unmap_mmio_range(a, {0x2000, 0x1000})), EINVAL);
  EXPECT_EQ(code(hv.unmap_mmio_range(a, bar)), 0);
  EXPECT_EQ(code(hv.unmap_mmio_range(a, bar)), ENOENT);
  EXPECT_EQ(code(hv.map_pcidev(a, kDev)), 0);
  EXPECT_EQ(code(hv.map_pcidev(a, kDev)), EEXIST);
  EXPECT_EQ(code(hv.unmap_pcidev(b, kDev)), ENOENT);
  EXPECT_EQ(code(hv.map_pcidev(9, kDev)), ENOENT);

  const auto calls = hv.calls();
  ASSERT_EQ(calls.size(), 14u);
  EXPECT_EQ(calls[3].to_string(), "map_mmio(server 0, [0xf0000000, 0xf0000fff])");
  EXPECT_EQ(calls[5].to_string(), "map_mmio(server 1, [0xf0000000, 0xf0000fff])");
  EXPECT_EQ(calls[11].to_string(), "map_pcidev(server 0, 0000:00:05.0) -> EEXIST");
  hv.clear_calls();
  EXPECT_TRUE(hv.calls().empty());
}

TEST(SimHypervisor, HighestEnabledServerWinsAndDisablingStopsRouting) {
  SimHypervisor hv;
  const auto a = ok(hv.create_ioreq_server());
  const auto b = ok(hv.create_ioreq_server());
  for (auto id : {a, b}) {
    ASSERT_TRUE(hv.map_pcidev(id, kDev));
    ASSERT_TRUE(hv.map_mmio_range(id, {0xF0000000, 0xF0000FFF}));
  }
  EXPECT_EQ(hv.route_pcidev(kDev), std::nullopt);  // nobody enabled yet
  ASSERT_TRUE(hv.set_ioreq_server_enabled(a, true));
  EXPECT_EQ(hv.route_pcidev(kDev), a);
  ASSERT_TRUE(hv.set_ioreq_server_enabled(b, true));
  EXPECT_EQ(hv.route_pcidev(kDev), b);
  EXPECT_EQ(hv.route_mmio(0xF0000000, 0xF0000003), b);
  ASSERT_TRUE(hv.set_ioreq_server_enabled(b, false));
  EXPECT_EQ(hv.route_mmio(0xF0000000, 0xF0000003), a);
}

TEST(SimHypervisor, MmioRoutingNeedsFullContainmentOfTheUnion) {
  SimHypervisor hv;
  const auto id = ok(hv.create_ioreq_server());
  ASSERT_TRUE(hv.set_ioreq_server_enabled(id, true));
  ASSERT_TRUE(hv.map_mmio_range(id, {0xF0000000, 0xF0000FFF}));
  EXPECT_EQ(hv.route_mmio(0xF0000FFC, 0xF0000FFF), id);
  EXPECT_EQ(hv.route_mmio(0xF0000FFE, 0xF0001001), std::nullopt);  // straddles the end
  ASSERT_TRUE(hv.map_mmio_range(id, {0xF0001000, 0xF0001FFF}));    // adjacent: merged
  EXPECT_EQ(hv.route_mmio(0xF0000FFE, 0xF0001001), id);
}

TEST(SimHypervisor, UnclaimedAccessesReadAllOnesAndCf8IsLatched) {
  SimHypervisor hv;
  hv.pio_write(0, 0xCF8, 4, 0x80002800);
  EXPECT_EQ(hv.cf8(), 0x80002800u);
  EXPECT_EQ(hv.pio_read(0, 0xCF8, 4), 0x80002800u);
  EXPECT_EQ(hv.pio_read(0, 0xCFC, 4), 0xFFFFFFFFu);
  EXPECT_EQ(hv.pio_read(0, 0xCFE, 1), 0xFFu);
  EXPECT_EQ(hv.mmio_read(0, 0xF0000000, 8), ~0ull);
  hv.mmio_write(0, 0xF0000000, 4, 1);
  EXPECT_TRUE(hv.violations().empty());
}

TEST(SimHypervisor, GuestStoresToRamNeverReachAServer) {
  SimHypervisor hv(SimConfig{.ram_bytes = 4 * 4096});
  hv.mmio_write(0, 0x10, 4, 0xAABBCCDD);  // the guest's own store: RAM
  EXPECT_EQ(hv.mmio_read(0, 0x10, 4), 0xAABBCCDDu);
  EXPECT_TRUE(hv.memory().dirty_pfns().empty()) << "the guest's own writes are not the device's";
  EXPECT_EQ(hv.memory().map_calls(), 0u);
}

TEST(SimHypervisor, DestroyedDomainAnswersEsrch) {
  SimHypervisor hv;
  const auto id = ok(hv.create_ioreq_server());
  hv.destroy_domain();
  EXPECT_FALSE(ok(hv.domain_info()).exists);
  EXPECT_EQ(code(hv.set_ioreq_server_enabled(id, true)), ESRCH);
  EXPECT_EQ(hv.create_ioreq_server().error().code, ESRCH);
  EXPECT_EQ(hv.vcpu_count().error().code, ESRCH);
  EXPECT_EQ(code(hv.inject_msi(0xFEE00000, 0x41)), ESRCH);
}

// A port returned by pending() stays masked: a notification that arrives
// meanwhile makes the fd readable only after unmask().
TEST(SimEventChannels, MaskedPortDeliversAfterUnmask) {
  SimHypervisor hv(SimConfig{.response_timeout = std::chrono::milliseconds(2000)});
  const auto id = ok(hv.create_ioreq_server());
  ioreq_t* page = ok(hv.map_ioreq_page(id));
  ASSERT_TRUE(hv.set_ioreq_server_enabled(id, true));
  ASSERT_TRUE(hv.map_mmio_range(id, {0xF0000000, 0xF0000FFF}));
  auto& ev = hv.event_channels();
  const hv::Port port = ok(ev.bind(page[0].vp_eport));
  EXPECT_EQ(ok(ev.pending()), std::nullopt);  // nothing yet: spurious

  std::thread guest([&] {
    hv.mmio_write(0, 0xF0000000, 4, 1);
    hv.mmio_write(0, 0xF0000004, 4, 2);
  });
  auto answer = [&] {
    abi::store_state(&page[0], STATE_IOREQ_INPROCESS);
    abi::store_state(&page[0], STATE_IORESP_READY);
    ASSERT_TRUE(ev.notify(port));
  };
  pollfd pfd{ev.fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&pfd, 1, 2000), 1);
  EXPECT_EQ(ok(ev.pending()), port);
  answer();  // still masked: the second request's notification must wait
  while (abi::load_state(&page[0]) != STATE_IOREQ_READY || page[0].addr != 0xF0000004) {
    std::this_thread::yield();
  }
  EXPECT_FALSE(readable(ev.fd()));
  ASSERT_TRUE(ev.unmask(port));
  ASSERT_EQ(::poll(&pfd, 1, 2000), 1);
  EXPECT_EQ(ok(ev.pending()), port);
  answer();
  guest.join();
  ASSERT_TRUE(ev.unmask(port));
  EXPECT_FALSE(readable(ev.fd()));
  EXPECT_TRUE(hv.violations().empty());
}

// One enabled server claiming a page of MMIO, both vCPUs' ports bound; the
// test answers requests by hand.
struct TwoPortRig {
  TwoPortRig() : id(ok(hv.create_ioreq_server())), page(ok(hv.map_ioreq_page(id))) {
    EXPECT_TRUE(hv.set_ioreq_server_enabled(id, true));
    EXPECT_TRUE(hv.map_mmio_range(id, {0xF0000000, 0xF0000FFF}));
    p0 = ok(ev.bind(page[0].vp_eport));
    p1 = ok(ev.bind(page[1].vp_eport));
  }
  void answer(unsigned vcpu, hv::Port port) {
    abi::store_state(&page[vcpu], STATE_IOREQ_INPROCESS);
    abi::store_state(&page[vcpu], STATE_IORESP_READY);
    EXPECT_TRUE(ev.notify(port));
  }
  void wait_ready(unsigned vcpu, uint64_t addr) {
    while (abi::load_state(&page[vcpu]) != STATE_IOREQ_READY || page[vcpu].addr != addr) {
      std::this_thread::yield();
    }
  }
  bool readable_within(int ms) {
    pollfd pfd{ev.fd(), POLLIN, 0};
    return ::poll(&pfd, 1, ms) == 1;
  }
  SimHypervisor hv{SimConfig{.vcpus = 2, .response_timeout = std::chrono::milliseconds(2000)}};
  hv::ServerId id;
  ioreq_t* page;
  hv::EventChannels& ev = hv.event_channels();
  hv::Port p0 = 0, p1 = 0;
};

// Masking is emulated without touching the epoll set: a notification for a
// masked port is latched, leaves fd() unreadable (a polling daemon must not
// spin) and does not hide other ports; unmask() delivers it exactly once.
TEST(SimEventChannels, NotificationWhileMaskedIsDeliveredOnceAfterUnmask) {
  TwoPortRig r;
  std::thread vcpu0([&] {
    r.hv.mmio_write(0, 0xF0000000, 4, 1);
    r.hv.mmio_write(0, 0xF0000004, 4, 2);
  });
  ASSERT_TRUE(r.readable_within(2000));
  ASSERT_EQ(ok(r.ev.pending()), r.p0);
  r.answer(0, r.p0);
  r.wait_ready(0, 0xF0000004);  // notified while p0 is masked
  EXPECT_FALSE(r.readable_within(50)) << "a masked, notified port made fd() readable";
  EXPECT_EQ(ok(r.ev.pending()), std::nullopt);

  std::thread vcpu1([&] { (void)r.hv.mmio_read(1, 0xF0000008, 4); });
  ASSERT_TRUE(r.readable_within(2000));
  EXPECT_EQ(ok(r.ev.pending()), r.p1);  // other ports are not held up
  r.answer(1, r.p1);
  vcpu1.join();
  ASSERT_TRUE(r.ev.unmask(r.p1));
  EXPECT_FALSE(readable(r.ev.fd()));

  ASSERT_TRUE(r.ev.unmask(r.p0));
  ASSERT_TRUE(r.readable_within(2000));
  EXPECT_EQ(ok(r.ev.pending()), r.p0);
  EXPECT_EQ(ok(r.ev.pending()), std::nullopt);  // once, not again
  EXPECT_FALSE(readable(r.ev.fd()));
  r.answer(0, r.p0);
  vcpu0.join();
  ASSERT_TRUE(r.ev.unmask(r.p0));
  EXPECT_FALSE(readable(r.ev.fd()));
  EXPECT_TRUE(r.hv.violations().empty());
}

TEST(SimEventChannels, UnboundPortHangsTheVcpuWithAHint) {
  SimHypervisor hv(SimConfig{.response_timeout = std::chrono::milliseconds(100)});
  const auto id = ok(hv.create_ioreq_server());
  ASSERT_TRUE(hv.set_ioreq_server_enabled(id, true));
  ASSERT_TRUE(hv.map_mmio_range(id, {0xF0000000, 0xF0000FFF}));
  EXPECT_EQ(hv.mmio_read(0, 0xF0000000, 4), 0xFFFFFFFFu);
  ASSERT_EQ(hv.violations().size(), 1u);
  EXPECT_NE(hv.violations()[0].find("vCPU 0 hung"), std::string::npos);
  EXPECT_NE(hv.violations()[0].find("bind every vCPU"), std::string::npos);
}

}  // namespace
}  // namespace vgpu::sim
