// The real event loop against the simulated hypervisor: the sequences a
// guest's firmware and kernel really issue, and the exact claims that follow.
#include <gtest/gtest.h>
#include <poll.h>

#include <algorithm>
#include <thread>

#include "../support/daemon_thread.h"
#include "vgpu/device/registers.h"
#include "vgpu/pci/regs.h"
#include "vgpu/sim/sim_guest.h"

namespace vgpu {
namespace {

using sim::SimCall;
using sim::SimCallKind;
using testing::DaemonThread;
using testing::kSbdf0005;
namespace regs = device::regs;

constexpr hv::MmioRange kBar0At(uint64_t base) {
  return {base, base + 0xfff};
}

std::vector<SimCall> calls_of(const sim::SimHypervisor& hv,
                              std::initializer_list<SimCallKind> kinds) {
  std::vector<SimCall> out;
  for (const SimCall& c : hv.calls())
    if (std::find(kinds.begin(), kinds.end(), c.kind) != kinds.end()) out.push_back(c);
  return out;
}

std::string describe(const std::vector<SimCall>& calls) {
  std::string s;
  for (const auto& c : calls) s += c.to_string() + "\n";
  return s;
}

// hvmloader's scan on `guest`'s vCPU; returns the BAR0 address it assigned.
uint32_t boot_with_hvmloader(sim::SimGuest& guest) {
  guest.hvmloader_scan();
  return guest.config_read(kSbdf0005, pci::kBar0, 4) & ~pci::kBarMemFlagsMask;
}

sim::SimConfig with_vcpus(unsigned n) {
  sim::SimConfig c;
  c.vcpus = n;
  c.response_timeout = std::chrono::milliseconds(2000);
  return c;
}

TEST(DaemonSim, BringUpCreatesEnablesBindsThenClaimsSbdfOnly) {
  sim::SimHypervisor hv(with_vcpus(2));
  DaemonThread d(hv);
  const auto calls = hv.calls();
  ASSERT_EQ(calls.size(), 3u) << describe(calls);
  EXPECT_EQ(calls[0].kind, SimCallKind::kCreateServer);
  EXPECT_EQ(calls[1].kind, SimCallKind::kEnableServer);
  EXPECT_EQ(calls[2].kind, SimCallKind::kMapPcidev);
  EXPECT_EQ(calls[2].sbdf, kSbdf0005);
  EXPECT_EQ(hv.bound_ports(), 2u) << "one event channel per vCPU";
  EXPECT_EQ(hv.mapped_pages(), 1u);
  EXPECT_TRUE(hv.mmio_ranges(calls[0].server).empty())
      << "no BAR claimed before the guest programs it";
}

// Whatever the interleaving, claims alternate map/unmap, always name the
// window hvmloader assigned (never the probe value 0xFFFFF000), and each
// decode-off/on toggle of a Linux probe costs one unmap and one map.
void expect_alternating_claims(sim::SimHypervisor& hv, unsigned min_toggles) {
  const auto mmio = calls_of(hv, {SimCallKind::kMapMmio, SimCallKind::kUnmapMmio});
  ASSERT_GE(mmio.size(), 1u);
  const hv::MmioRange bar = mmio[0].range;
  EXPECT_EQ(bar.last - bar.first, 0xfffu);
  EXPECT_EQ(bar.first % 0x1000, 0u);
  EXPECT_GE(bar.first, sim::SimGuest::kMmioHoleStart);
  for (size_t i = 0; i < mmio.size(); ++i) {
    const auto expected = i % 2 == 0 ? SimCallKind::kMapMmio : SimCallKind::kUnmapMmio;
    EXPECT_EQ(mmio[i].kind, expected) << i << "\n" << describe(mmio);
    EXPECT_EQ(mmio[i].range, bar) << "only the assigned window is ever claimed: "
                                  << mmio[i].to_string();
    EXPECT_EQ(mmio[i].error, 0) << mmio[i].to_string();
  }
  EXPECT_GE(mmio.size() / 2, min_toggles) << describe(mmio);
}

// What is claimed must be exactly what the device decodes.
void expect_claim_mirrors_decode(sim::SimHypervisor& hv, app::Daemon& d) {
  sim::SimGuest guest(hv, 0);
  const bool decoding = guest.config_read(kSbdf0005, pci::kCommand, 2) & pci::kCommandMemorySpace;
  const uint32_t base = guest.config_read(kSbdf0005, pci::kBar0, 4) & ~pci::kBarMemFlagsMask;
  const auto claimed = hv.mmio_ranges(d.server_id());
  // A racing guest can leave the probe value in the BAR: never claimed.
  if (decoding && base != 0 && base != 0xfffff000u)
    EXPECT_EQ(claimed, std::vector<hv::MmioRange>{kBar0At(base)});
  else
    EXPECT_TRUE(claimed.empty());
}

TEST(DaemonSim, HvmloaderThenLinuxProbeOnOneVcpu) {
  sim::SimHypervisor hv(with_vcpus(1));
  DaemonThread d(hv);
  sim::SimGuest guest(hv, 0);

  const auto scanned = guest.hvmloader_scan();
  ASSERT_EQ(scanned.size(), 1u);
  EXPECT_EQ(scanned[0].vendor_id, 0x1af4);
  EXPECT_EQ(scanned[0].device_id, 0x1111);
  ASSERT_EQ(scanned[0].bars.size(), 1u);
  EXPECT_EQ(scanned[0].bars[0].size, 0x1000u);

  const sim::ProbedDevice dev = guest.linux_probe(kSbdf0005);
  EXPECT_EQ(dev.class_code, 0x120000u);
  EXPECT_EQ(dev.revision, 1);
  EXPECT_EQ(dev.subsystem_vendor_id, 0x1af4);
  EXPECT_EQ(dev.subsystem_id, 0x1111);
  EXPECT_TRUE(dev.capability_error.empty()) << dev.capability_error;
  ASSERT_EQ(dev.capabilities.size(), 1u);
  EXPECT_EQ(dev.capabilities[0].offset, 0x40);
  EXPECT_EQ(dev.capabilities[0].id, pci::kCapIdMsi);
  EXPECT_TRUE(dev.msi_enabled);
  ASSERT_EQ(dev.bars.size(), 1u);
  EXPECT_EQ(dev.bars[0].address, scanned[0].bars[0].address);
  EXPECT_FALSE(dev.bars[0].prefetchable);
  EXPECT_FALSE(dev.bars[0].is_64bit);

  // hvmloader's claim, then one unmap/map per BAR Linux sizes (it toggles
  // decode around each of the six).
  expect_alternating_claims(hv, 1);
  EXPECT_EQ(calls_of(hv, {SimCallKind::kMapMmio, SimCallKind::kUnmapMmio}).size(), 13u);
  EXPECT_EQ(hv.mmio_ranges(d.daemon().server_id()),
            std::vector<hv::MmioRange>{kBar0At(dev.bars[0].address)});
  EXPECT_TRUE(hv.violations().empty()) << hv.violations().front();
}

// Four CPUs probing one device at once race on COMMAND (the guest's own
// read-modify-write), so the final decode state is up to the interleaving;
// what must hold is that no request is lost and the claim follows decode.
TEST(DaemonSim, FourVcpusProbeConcurrentlyWithoutLosingARequest) {
  sim::SimHypervisor hv(with_vcpus(4));
  DaemonThread d(hv);
  sim::SimGuest(hv, 3).hvmloader_scan();

  std::vector<std::thread> vcpus;
  std::vector<sim::ProbedDevice> seen(4);
  for (unsigned v = 0; v < 4; ++v)
    vcpus.emplace_back([&, v] {
      sim::SimGuest guest(hv, v);
      for (int round = 0; round < 5; ++round) seen[v] = guest.linux_probe(kSbdf0005);
    });
  for (auto& t : vcpus) t.join();

  for (const auto& dev : seen) {
    EXPECT_EQ(dev.vendor_id, 0x1af4);
    EXPECT_EQ(dev.device_id, 0x1111);
    EXPECT_TRUE(dev.capability_error.empty());
  }
  expect_alternating_claims(hv, 0);
  expect_claim_mirrors_decode(hv, d.daemon());
  // The guest repairs what its race did; the claim follows.
  sim::SimGuest repair(hv, 1);
  repair.config_write(kSbdf0005, pci::kCommand, 2, 0);
  repair.config_write(kSbdf0005, pci::kBar0, 4, 0xf0000000);
  expect_claim_mirrors_decode(hv, d.daemon());
  repair.config_write(kSbdf0005, pci::kCommand, 2, pci::kCommandMemorySpace);
  expect_claim_mirrors_decode(hv, d.daemon());
  EXPECT_EQ(hv.mmio_ranges(d.daemon().server_id()).size(), 1u);
  EXPECT_TRUE(hv.violations().empty()) << hv.violations().front();
  EXPECT_EQ(d.daemon().server().stats().served, d.daemon().dispatcher().stats().handled);
}

TEST(DaemonSim, GuestMovingBar0ReleasesExactOldRangeBeforeClaimingNew) {
  sim::SimHypervisor hv(with_vcpus(1));
  DaemonThread d(hv);
  sim::SimGuest guest(hv, 0);
  const uint32_t old_base = boot_with_hvmloader(guest);
  hv.clear_calls();

  const uint32_t new_base = 0xe0001000;
  guest.config_write(kSbdf0005, pci::kBar0, 4, new_base);
  const auto mmio = calls_of(hv, {SimCallKind::kMapMmio, SimCallKind::kUnmapMmio});
  ASSERT_EQ(mmio.size(), 2u) << describe(mmio);
  EXPECT_EQ(mmio[0].kind, SimCallKind::kUnmapMmio);
  EXPECT_EQ(mmio[0].range, kBar0At(old_base));
  EXPECT_EQ(mmio[1].kind, SimCallKind::kMapMmio);
  EXPECT_EQ(mmio[1].range, kBar0At(new_base));

  // The register file answers at the new address only.
  guest.bar0_write(kSbdf0005, regs::kRequestId, 4, 0xabcd);
  EXPECT_EQ(hv.mmio_read(0, new_base + regs::kRequestId, 4), 0xabcdu);
  EXPECT_EQ(hv.mmio_read(0, old_base + regs::kRequestId, 4), 0xffffffffu);
}

TEST(DaemonSim, DecodeOffReleasesBar0AndAccessesReadAllOnes) {
  sim::SimHypervisor hv(with_vcpus(1));
  DaemonThread d(hv);
  sim::SimGuest guest(hv, 0);
  const uint32_t base = boot_with_hvmloader(guest);
  hv.clear_calls();

  guest.config_write(kSbdf0005, pci::kCommand, 2, 0);
  EXPECT_TRUE(hv.mmio_ranges(d.daemon().server_id()).empty());
  EXPECT_EQ(hv.mmio_read(0, base + regs::kStatus, 4), 0xffffffffu);
  // Sizing while decode is off never claims the probe value.
  guest.config_write(kSbdf0005, pci::kBar0, 4, 0xffffffff);
  EXPECT_EQ(guest.config_read(kSbdf0005, pci::kBar0, 4), 0xfffff000u);
  guest.config_write(kSbdf0005, pci::kCommand, 2, pci::kCommandMemorySpace);
  EXPECT_TRUE(hv.mmio_ranges(d.daemon().server_id()).empty())
      << "a BAR holding the probe value is unmapped even with decode on";
  const auto maps = calls_of(hv, {SimCallKind::kMapMmio});
  EXPECT_TRUE(maps.empty()) << describe(maps);
}

TEST(DaemonSim, PingRaisesTheMsiTheGuestProgrammed) {
  sim::SimHypervisor hv(with_vcpus(1));
  DaemonThread d(hv);
  sim::SimGuest guest(hv, 0);
  guest.hvmloader_scan();
  guest.linux_probe(kSbdf0005);
  hv.clear_calls();

  guest.bar0_write(kSbdf0005, regs::kRequestId, 4, 77);
  guest.bar0_write(kSbdf0005, regs::kCommand, 4, 1);
  EXPECT_EQ(guest.bar0_read(kSbdf0005, regs::kStatus, 4), 2u);
  EXPECT_EQ(guest.bar0_read(kSbdf0005, regs::kPingMagicOffset, 4), regs::kPingMagic);
  EXPECT_EQ(guest.bar0_read(kSbdf0005, regs::kPingRequestIdOffset, 4), 77u);
  const auto msis = calls_of(hv, {SimCallKind::kInjectMsi});
  ASSERT_EQ(msis.size(), 1u);
  EXPECT_EQ(msis[0].msi_address, sim::SimGuest::kMsiAddress);
  EXPECT_EQ(msis[0].msi_data, sim::SimGuest::kMsiData);
}

TEST(DaemonSim, RepMovsThroughGuestMemoryRoundTripsTheDataRegion) {
  sim::SimHypervisor hv(with_vcpus(1));
  DaemonThread d(hv);
  sim::SimGuest guest(hv, 0);
  const uint64_t base = boot_with_hvmloader(guest);

  // rep movsd of 8 dwords from guest RAM at 0x2000 into DATA, then back out
  // to 0x3000 with the direction flag set (walking down from the last one).
  for (uint32_t i = 0; i < 8; ++i) {
    const uint32_t v = 0x1000 + i;
    ASSERT_TRUE(hv.memory().guest_write(0x2000 + 4 * i, std::as_bytes(std::span(&v, 1))));
  }
  ioreq_t out{};
  out.type = IOREQ_TYPE_COPY;
  out.dir = IOREQ_WRITE;
  out.addr = base + regs::kData;
  out.size = 4;
  out.count = 8;
  out.data = 0x2000;
  out.data_is_ptr = 1;
  hv.issue(0, out);

  ioreq_t in = out;
  in.dir = IOREQ_READ;
  in.df = 1;
  in.addr = base + regs::kData + 7 * 4;
  in.data = 0x3000 + 7 * 4;
  hv.issue(0, in);
  for (uint32_t i = 0; i < 8; ++i) {
    uint32_t v = 0;
    ASSERT_TRUE(hv.memory().guest_read(0x3000 + 4 * i, std::as_writable_bytes(std::span(&v, 1))));
    EXPECT_EQ(v, 0x1000 + i) << i;
  }
  EXPECT_FALSE(hv.memory().dirty_pfns().empty()) << "device writes to guest RAM mark it dirty";
  EXPECT_TRUE(hv.violations().empty());
}

TEST(DaemonSim, MalformedRequestsGetAnAnswerAndLeaveNoSlotBusy) {
  sim::SimHypervisor hv(with_vcpus(2));
  DaemonThread d(hv);
  sim::SimGuest guest(hv, 0);
  const uint64_t base = boot_with_hvmloader(guest);
  const hv::ServerId id = d.daemon().server_id();

  struct Case {
    uint8_t type;
    uint32_t size;
    uint32_t count;
  };
  for (Case c :
       {Case{IOREQ_TYPE_COPY, 0, 1}, Case{IOREQ_TYPE_COPY, 3, 1}, Case{IOREQ_TYPE_COPY, 16, 1},
        Case{IOREQ_TYPE_COPY, 4, 0}, Case{IOREQ_TYPE_COPY, 4, 0xffffffff},
        Case{IOREQ_TYPE_PCI_CONFIG, 3, 1}, Case{5, 4, 1}, Case{0xff, 4, 1}}) {
    ioreq_t r{};
    r.type = c.type;
    r.dir = IOREQ_READ;
    r.addr = c.type == IOREQ_TYPE_PCI_CONFIG ? abi::pci_config_addr(kSbdf0005.packed(), 0) : base;
    r.size = c.size;
    r.count = c.count;
    const ioreq_t done = hv.issue(1, r, id);
    EXPECT_EQ(done.data, ~uint64_t{0}) << "type " << unsigned{c.type} << " size " << c.size;
  }
  hv.broadcast_invalidate(0);
  EXPECT_EQ(d.daemon().dispatcher().stats().malformed, 8u);
  EXPECT_EQ(d.daemon().dispatcher().stats().invalidations, 1u);
  EXPECT_TRUE(hv.violations().empty()) << hv.violations().front();
  // The device still works afterwards.
  EXPECT_EQ(guest.config_read(kSbdf0005, pci::kVendorId, 2), 0x1af4u);
}

TEST(DaemonSim, TeardownReleasesEverythingInReverseOrder) {
  sim::SimHypervisor hv(with_vcpus(4));
  DaemonThread d(hv);
  const hv::ServerId id = d.daemon().server_id();
  sim::SimGuest guest(hv, 0);
  guest.hvmloader_scan();
  hv.clear_calls();

  d.stop();
  const auto calls = hv.calls();
  ASSERT_EQ(calls.size(), 4u) << describe(calls);
  EXPECT_EQ(calls[0].kind, SimCallKind::kUnmapMmio);
  EXPECT_EQ(calls[1].kind, SimCallKind::kUnmapPcidev);
  EXPECT_EQ(calls[2].kind, SimCallKind::kDisableServer);
  EXPECT_EQ(calls[3].kind, SimCallKind::kDestroyServer);
  for (const auto& c : calls) EXPECT_EQ(c.error, 0) << c.to_string();
  EXPECT_TRUE(hv.servers().empty());
  EXPECT_EQ(hv.mapped_pages(), 0u);
  EXPECT_EQ(hv.bound_ports(), 0u);
  EXPECT_FALSE(hv.route_pcidev(kSbdf0005).has_value());
  EXPECT_TRUE(hv.mmio_ranges(id).empty());
}

// docs/spec.md §7's teardown order with a request in flight: claims, then
// disable (Xen routes nothing more to us), then the drain answers the vCPU
// (its notify needs the port still bound), then unbind, unmap, destroy.
TEST(DaemonSim, TeardownDisablesThenDrainsThenUnbindsUnmapsDestroys) {
  sim::SimHypervisor hv(with_vcpus(1));
  auto started = app::Daemon::start(hv, {kSbdf0005, device::stub_factory(device::StubConfig{})});
  ASSERT_TRUE(started.ok()) << started.error().describe();
  std::unique_ptr<app::Daemon> daemon = std::move(*started);
  const hv::ServerId id = daemon->server_id();

  // No event loop runs: the vCPU's config read waits in its slot until the
  // teardown's drain answers it.
  uint32_t vendor = 0;
  std::thread vcpu(
      [&] { vendor = sim::SimGuest(hv, 0).config_read(kSbdf0005, pci::kVendorId, 2); });
  pollfd pfd{daemon->server().fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&pfd, 1, 2000), 1) << "the request never reached the server";

  hv.record_transport(true);
  hv.clear_calls();
  daemon.reset();
  vcpu.join();

  // The drain published the real answer and notified (kNotify below, before
  // the unbind). Whether the vCPU reads it depends on whether it wakes before
  // the destroy: if the destroy overtakes it, the access completes with all
  // ones, as on Xen when a server goes away under a blocked vCPU. Either
  // way the vCPU is released, never hung.
  EXPECT_TRUE(vendor == 0x1af4u || vendor == 0xffffu) << std::hex << vendor;
  EXPECT_TRUE(hv.violations().empty()) << hv.violations().front();
  std::vector<SimCallKind> kinds;
  for (const auto& c : hv.calls()) {
    kinds.push_back(c.kind);
    EXPECT_EQ(c.server, id) << c.to_string();
    EXPECT_EQ(c.error, 0) << c.to_string();
  }
  using K = SimCallKind;
  EXPECT_EQ(kinds, (std::vector<K>{K::kUnmapPcidev, K::kDisableServer, K::kNotify, K::kUnbindPort,
                                   K::kUnmapPage, K::kDestroyServer}))
      << describe(hv.calls());
}

// SIGTERM during a request storm: see lifecycle_test.cpp, which drives the
// whole serve() path with a real signal.

}  // namespace
}  // namespace vgpu
