#include "rig.h"

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <stdexcept>
#include <string>

#include "vgpu/pci/regs.h"
#include "vgpu/sim/sim_guest.h"

namespace vgpu::bench {
namespace {

sim::SimConfig sim_config(unsigned vcpus) {
  sim::SimConfig c;
  c.vcpus = vcpus;
  // A benchmark must fail loudly, never measure a hang.
  c.response_timeout = std::chrono::seconds(10);
  return c;
}

[[noreturn]] void fail(const std::string& what, const Error& e) {
  throw std::runtime_error(what + ": " + e.describe());
}

}  // namespace

void silence_logging() {
  auto logger =
      std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::null_sink_mt>());
  logger->set_level(spdlog::level::info);  // the daemon's default level
  spdlog::set_default_logger(std::move(logger));
}

ioreq_t make_request(uint8_t type, uint8_t dir, uint64_t addr, uint32_t size, uint64_t data) {
  ioreq_t r{};
  r.type = type;
  r.dir = dir;
  r.addr = addr;
  r.size = size;
  r.count = 1;
  r.data = data;
  r.state = STATE_IOREQ_READY;
  return r;
}

ioreq_t config_request(uint8_t dir, uint32_t offset, uint32_t size, uint32_t data) {
  return make_request(IOREQ_TYPE_PCI_CONFIG, dir, abi::pci_config_addr(kSbdf.packed(), offset),
                      size, data);
}

struct PathRig::DeviceOnly {
  explicit DeviceOnly(sim::SimHypervisor& hv)
      : dma(hv.guest_memory()),
        host(kSbdf, hv, device::stub_factory(device::StubConfig{}), dma),
        dispatcher(host, dma) {}
  dma::MappingCache dma;
  host::DeviceHost host;
  ioreq::Dispatcher dispatcher;
};

PathRig::PathRig(bool with_claims) : hv_(sim_config(1)) {
  if (with_claims) {
    auto daemon = app::Daemon::start(hv_, {kSbdf, device::stub_factory(device::StubConfig{})});
    if (!daemon) fail("starting the daemon", daemon.error());
    daemon_ = std::move(*daemon);
    dispatcher_ = &daemon_->dispatcher();
  } else {
    device_only_ = std::make_unique<DeviceOnly>(hv_);
    dispatcher_ = &device_only_->dispatcher;
  }
  ioreq_t bar = config_request(IOREQ_WRITE, pci::kBar0, 4, static_cast<uint32_t>(kBar0A));
  ioreq_t cmd = config_request(IOREQ_WRITE, pci::kCommand, 2, pci::kCommandMemorySpace);
  dispatcher_->dispatch(bar);
  dispatcher_->dispatch(cmd);
  // The daemon logs a failed claim and goes on; a benchmark must not.
  if (daemon_ && daemon_->claims().mmio(0) != hv::MmioRange{kBar0A, kBar0A + 0xfff})
    throw std::runtime_error("BAR0 is not claimed at kBar0A");
}

PathRig::~PathRig() = default;

ServingRig::ServingRig(unsigned vcpus)
    : hv_(sim_config(vcpus)), daemon_(hv_, {kSbdf, device::stub_factory(device::StubConfig{})}) {
  sim::SimGuest guest(hv_, 0);
  guest.config_write(kSbdf, pci::kBar0, 4, static_cast<uint32_t>(kBar0A));
  guest.config_write(kSbdf, pci::kCommand, 2, pci::kCommandMemorySpace);
  if (guest.bar0_read(kSbdf, 0x4, 4) != 0) throw std::runtime_error("BAR0 does not answer");
}

}  // namespace vgpu::bench
