// libFuzzer target: arbitrary sequences of ioreq_t slots (any type, size,
// count, df, data_is_ptr, address, data) through the real path a request
// takes in the daemon: IoreqServer::on_event -> handshake -> Dispatcher ->
// DeviceHost -> VgpuStub, with BAR0 moves applied through Claims.
//
// Input: 32-byte records. Bytes 0-23 and 30-31 of a record become the slot
// (addr, data, count, size; flags; type); vp_eport stays as "Xen" set it.
// Byte 28 picks the vCPU (bit 0) and, with bit 1, first delivers a spurious
// event for a slot that is not READY.
//
// Invariants (a violation aborts): every READY slot is answered with
// IORESP_READY and its port notified; a spurious event answers nothing; the
// claimed window always equals the BAR0 window the device decodes; the
// device's identity never changes.
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fuzz_hypervisor.h"
#include "vgpu/device/vgpu_stub.h"
#include "vgpu/dma/mapping_cache.h"
#include "vgpu/host/claims.h"
#include "vgpu/host/device_host.h"
#include "vgpu/ioreq/dispatcher.h"
#include "vgpu/ioreq/ioreq_server.h"
#include "vgpu/pci/regs.h"

namespace vgpu::fuzz {
namespace {

constexpr pci::Sbdf kSbdf{0, 0, 5, 0};
constexpr size_t kRecord = 32;

class Harness final : private host::HostListener {
 public:
  Harness()
      : dma_(hv_.guest_memory()),
        host_(kSbdf, hv_, device::stub_factory(device::StubConfig{}), dma_),
        dispatcher_(host_, dma_) {
    auto server = ioreq::IoreqServer::start(hv_, dispatcher_);
    if (!server) finding("server did not start");
    server_ = std::move(*server);
    claims_.emplace(hv_, server_->id(), kSbdf);
    if (!claims_->claim_sbdf()) finding("SBDF claim failed");
    host_.set_listener(this);
    // Start decoding at a typical address so that MMIO records reach the
    // device without the fuzzer first discovering the config sequence.
    host_.config_write(kSbdf.packed(), pci::kBar0, 4, 0xf0000000);
    host_.config_write(kSbdf.packed(), pci::kCommand, 2, pci::kCommandMemorySpace);
  }
  ~Harness() override { host_.set_listener(nullptr); }

  void run(const uint8_t* rec) {
    const unsigned vcpu = rec[28] & 1u;
    ioreq_t* slot = hv_.slot(vcpu);
    if (rec[28] & 2u) spurious(vcpu);
    const uint32_t eport = slot->vp_eport;
    std::memcpy(slot, rec, 24);  // addr, data, count, size
    slot->vp_eport = eport;
    slot->type = rec[31];
    // Flags from the record, state READY, published as Xen does (release).
    const auto flags = static_cast<uint8_t>((rec[30] & 0x70u) | STATE_IOREQ_READY);
    __atomic_store_n(abi::state_byte(slot), flags, __ATOMIC_RELEASE);

    hv_.channels.last_notified.reset();
    hv_.channels.set_pending(port(vcpu));
    if (!server_->on_event()) finding("on_event failed");
    if (abi::load_state(slot) != STATE_IORESP_READY) finding("READY slot left unanswered");
    if (hv_.channels.last_notified != port(vcpu)) finding("answer not notified on the vCPU's port");
    abi::store_state(slot, STATE_IOREQ_NONE);  // Xen consumes the response
    check_invariants();
  }

 private:
  static hv::Port port(unsigned vcpu) {
    return FuzzHypervisor::kFirstRemote + vcpu + FuzzEventChannels::kLocalBase;
  }

  void spurious(unsigned vcpu) {
    hv_.channels.last_notified.reset();
    hv_.channels.set_pending(port(vcpu));
    if (!server_->on_event()) finding("on_event failed on a spurious event");
    if (abi::load_state(hv_.slot(vcpu)) != STATE_IOREQ_NONE) finding("idle slot changed state");
    if (hv_.channels.last_notified) finding("spurious event was answered");
  }

  void check_invariants() {
    const auto bar = host_.device().bar_mapping(0);
    if (bar) {
      const hv::MmioRange want{bar->base, bar->base + bar->size - 1};
      if (hv_.mmio.size() != 1 || hv_.mmio.front() != want) finding("claim differs from BAR0");
      if (bar->base == 0 || bar->base == 0xfffff000u) finding("BAR0 decodes at an invalid address");
    } else if (!hv_.mmio.empty()) {
      finding("claim held while BAR0 does not decode");
    }
    if (host_.config_read(kSbdf.packed(), pci::kVendorId, 4) != 0x11111af4u)
      finding("vendor/device ID changed");
    if (host_.config_read(kSbdf.packed(), pci::kCapabilitiesPointer, 1) != 0x40u)
      finding("capabilities pointer changed");
  }

  void bar_changed(unsigned index, std::optional<pci::BarMapping> now) override {
    if (!claims_->move_bar(index, now)) finding("moving the claim failed");
  }
  void device_status(std::string_view, std::string_view) override {}

  FuzzHypervisor hv_;
  dma::MappingCache dma_;
  host::DeviceHost host_;
  ioreq::Dispatcher dispatcher_;
  std::unique_ptr<ioreq::IoreqServer> server_;
  std::optional<host::Claims> claims_;
};

}  // namespace
}  // namespace vgpu::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Guest-triggered warnings are expected: format them (that code is under
  // test too) and drop them.
  auto logger =
      std::make_shared<spdlog::logger>("fuzz", std::make_shared<spdlog::sinks::null_sink_st>());
  logger->set_level(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vgpu::fuzz::Harness harness;
  for (size_t off = 0; off + vgpu::fuzz::kRecord <= size; off += vgpu::fuzz::kRecord)
    harness.run(data + off);
  return 0;
}
