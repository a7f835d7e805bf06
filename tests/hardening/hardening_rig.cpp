#include "hardening_rig.h"

#include <algorithm>
#include <chrono>

#include "../support/fakes.h"
#include "vgpu/pci/regs.h"

namespace vgpu::hardening {

sim::SimConfig sim_config(unsigned vcpus) {
  sim::SimConfig c;
  c.vcpus = vcpus;
  // A stuck slot must fail the test quickly, not stall the suite; generous
  // enough for sanitizer builds on a loaded 2-core machine.
  c.response_timeout = std::chrono::seconds(5);
  return c;
}

Rig::Rig(unsigned vcpus) : hv_(sim_config(vcpus)), guest_(hv_, 0) {}

Rig::~Rig() {
  stop();
}

void Rig::start() {
  daemon_.emplace(hv_, app::DaemonConfig{kSbdf, device::stub_factory(device::StubConfig{})});
  id_ = daemon_->daemon().server_id();
}

void Rig::stop() {
  daemon_.reset();
}

ioreq_t Rig::issue(const ioreq_t& req, unsigned vcpu) {
  return hv_.issue(vcpu, req, id_);
}

uint32_t Rig::config_read(uint32_t offset, unsigned size) {
  const ioreq_t r = issue(testing::make_ioreq(IOREQ_TYPE_PCI_CONFIG, IOREQ_READ,
                                              abi::pci_config_addr(kSbdf.packed(), offset), size));
  return static_cast<uint32_t>(r.data);
}

void Rig::config_write(uint32_t offset, unsigned size, uint32_t value) {
  (void)issue(testing::make_ioreq(IOREQ_TYPE_PCI_CONFIG, IOREQ_WRITE,
                                  abi::pci_config_addr(kSbdf.packed(), offset), size, value));
}

void Rig::place_bar0(uint32_t value, bool decode) {
  config_write(pci::kBar0, 4, value);
  config_write(pci::kCommand, 2, decode ? pci::kCommandMemorySpace : 0);
}

std::vector<hv::MmioRange> Rig::decoded_window() {
  const uint32_t bar = config_read(pci::kBar0, 4) & ~uint32_t{pci::kBarMemFlagsMask};
  const bool decode = (config_read(pci::kCommand, 2) & pci::kCommandMemorySpace) != 0;
  const uint32_t probe = ~static_cast<uint32_t>(kBar0Size - 1);
  if (!decode || bar == 0 || bar == probe) return {};
  return {{bar, bar + kBar0Size - 1}};
}

std::string Rig::health() {
  if (auto v = hv_.violations(); !v.empty()) return "simulator violation: " + v.front();
  const uint32_t id = guest_.config_read(kSbdf, pci::kVendorId, 4);
  if (id != 0x11111af4) return "vendor/device ID read back wrong after the request";
  if (auto v = hv_.violations(); !v.empty()) return "simulator violation: " + v.front();
  return {};
}

std::string claim_leaks(const std::vector<sim::SimCall>& calls, hv::ServerId server) {
  std::vector<hv::MmioRange> ranges;
  std::vector<pci::Sbdf> sbdfs;
  for (const sim::SimCall& c : calls) {
    if (c.server != server || c.error != 0) continue;
    switch (c.kind) {
      case sim::SimCallKind::kMapMmio:
        ranges.push_back(c.range);
        break;
      case sim::SimCallKind::kMapPcidev:
        sbdfs.push_back(c.sbdf);
        break;
      case sim::SimCallKind::kUnmapMmio:
        if (std::erase(ranges, c.range) != 1)
          return "unmapped a range never mapped: " + c.to_string();
        break;
      case sim::SimCallKind::kUnmapPcidev:
        if (std::erase(sbdfs, c.sbdf) != 1)
          return "unmapped an SBDF never mapped: " + c.to_string();
        break;
      case sim::SimCallKind::kDestroyServer:
        if (!ranges.empty() || !sbdfs.empty())
          return "server destroyed with claims still held (leaked until destroy)";
        return {};
      default:
        break;
    }
  }
  if (!ranges.empty() || !sbdfs.empty()) return "claims still held at the end";
  return {};
}

}  // namespace vgpu::hardening
