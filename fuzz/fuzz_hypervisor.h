// A deterministic, single-threaded hv::Hypervisor for the fuzz targets: the
// real IoreqServer runs its handshake on a real slot page, while the fuzzer
// decides which port is pending. It enforces the claim rules Xen enforces
// (no overlap within a server, unmap only an exact mapped range) by
// trapping, so a violation is a fuzzer finding.
//
// Thread-compatible: the fuzzer's thread only.
#pragma once

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "vgpu/hv/hypervisor.h"
#include "vgpu/sim/sim_guest_memory.h"

namespace vgpu::fuzz {

// A broken invariant is a finding: stop with a stack trace.
[[noreturn]] inline void finding(const char* what) {
  __builtin_printf("FUZZ FINDING: %s\n", what);
  std::abort();
}

class FuzzEventChannels final : public hv::EventChannels {
 public:
  static constexpr hv::Port kLocalBase = 100;

  int fd() const override { return -1; }
  Result<hv::Port> bind(hv::Port remote) override { return remote + kLocalBase; }
  Status unbind(hv::Port) override { return {}; }
  Result<std::optional<hv::Port>> pending() override { return std::exchange(next_, std::nullopt); }
  Status unmask(hv::Port) override { return {}; }
  Status notify(hv::Port port) override {
    last_notified = port;
    return {};
  }

  void set_pending(hv::Port port) { next_ = port; }
  std::optional<hv::Port> last_notified;

 private:
  std::optional<hv::Port> next_;
};

// Guest RAM: the simulator's memfd-backed memory, whose foreign mappings
// behave as Xen's do. Shared by every input (creating it is a few
// syscalls); each harness's mapping cache unmaps what it mapped.
inline sim::SimGuestMemory& fuzz_guest_memory() {
  static constexpr uint64_t kRamBytes = 0x12000;
  static sim::SimGuestMemory memory(kRamBytes);
  return memory;
}

class FuzzHypervisor final : public hv::Hypervisor {
 public:
  static constexpr unsigned kVcpus = 2;
  static constexpr hv::Port kFirstRemote = 3;

  uint16_t domid() const override { return 1; }
  Result<hv::DomainInfo> domain_info() override { return hv::DomainInfo{true, true, false, false}; }
  Result<unsigned> vcpu_count() override { return kVcpus; }
  Result<hv::ServerId> create_ioreq_server() override { return hv::ServerId{0}; }
  Status destroy_ioreq_server(hv::ServerId) override { return {}; }
  Result<ioreq_t*> map_ioreq_page(hv::ServerId) override { return page_.data(); }
  void unmap_ioreq_page(ioreq_t*) override {}
  Status set_ioreq_server_enabled(hv::ServerId, bool enabled) override {
    for (unsigned v = 0; v < kVcpus; ++v) page_[v].vp_eport = enabled ? kFirstRemote + v : 0;
    return {};
  }
  Status map_pcidev(hv::ServerId, pci::Sbdf) override { return {}; }
  Status unmap_pcidev(hv::ServerId, pci::Sbdf) override { return {}; }
  Status map_mmio_range(hv::ServerId, hv::MmioRange r) override {
    if (r.last < r.first) finding("mapped an empty or inverted range");
    for (const auto& m : mmio) {
      if (r.first <= m.last && m.first <= r.last) finding("mapped an overlapping range");
    }
    mmio.push_back(r);
    return {};
  }
  Status unmap_mmio_range(hv::ServerId, hv::MmioRange r) override {
    if (std::erase(mmio, r) != 1) finding("unmapped a range that is not mapped exactly");
    return {};
  }
  Status inject_msi(uint64_t, uint32_t) override {
    ++msis;
    return {};
  }
  hv::EventChannels& event_channels() override { return channels; }
  hv::GuestMemory& guest_memory() override { return fuzz_guest_memory(); }

  ioreq_t* slot(unsigned vcpu) { return &page_[vcpu]; }

  FuzzEventChannels channels;
  std::vector<hv::MmioRange> mmio;
  uint64_t msis = 0;

 private:
  alignas(4096) std::array<ioreq_t, 128> page_{};
};

}  // namespace vgpu::fuzz
