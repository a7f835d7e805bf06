#include "test_responder.h"

#include <poll.h>

#include <chrono>
#include <cstring>
#include <stdexcept>

#include "vgpu/pci/regs.h"

namespace vgpu::sim::testing {

namespace {

void must(const Status& s) {
  if (!s) throw std::runtime_error(s.error().describe());
}

template <typename T>
T must(Result<T> r) {
  if (!r) throw std::runtime_error(r.error().describe());
  return std::move(r).value();
}

uint64_t mask_of(unsigned size) {
  return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

}  // namespace

TestResponder::TestResponder(SimHypervisor& hv, pci::Sbdf sbdf, Mode mode, uint16_t device_id)
    : hv_(hv), sbdf_(sbdf), mode_(mode), evtchn_(hv.open_event_channels()) {
  auto put = [&](uint32_t off, unsigned size, uint32_t v, uint32_t wmask) {
    for (unsigned i = 0; i < size; ++i) {
      config_[off + i] = static_cast<uint8_t>(v >> (8 * i));
      wmask_[off + i] = static_cast<uint8_t>(wmask >> (8 * i));
    }
  };
  put(pci::kVendorId, 2, 0x1af4, 0);
  put(pci::kDeviceId, 2, device_id, 0);
  put(pci::kCommand, 2, 0,
      pci::kCommandMemorySpace | pci::kCommandBusMaster | pci::kCommandIntxDisable);
  put(pci::kStatus, 2, pci::kStatusCapabilitiesList, 0);
  put(pci::kRevisionId, 4, 0x12000001, 0);
  put(pci::kBar0, 4, 0, 0xFFFFF000);
  put(pci::kSubsystemVendorId, 2, 0x1af4, 0);
  put(pci::kSubsystemId, 2, 0x1111, 0);
  put(pci::kCapabilitiesPointer, 1, 0x40, 0);
  put(pci::kInterruptLine, 1, 0xFF, 0xFF);
  put(0x40, 2, pci::kCapIdMsi, 0);  // MSI, last in the list
  put(0x40 + pci::kMsiControl, 2, pci::kMsiControl64Bit | pci::kMsiControlPerVectorMask,
      pci::kMsiControlEnable | pci::kMsiControlMultipleEnableMask);
  put(0x40 + pci::kMsiAddressLow, 4, 0, 0xFFFFFFFC);
  put(0x40 + pci::kMsiAddressHigh, 4, 0, 0xFFFFFFFF);
  put(0x40 + pci::kMsiData64, 2, 0, 0xFFFF);
  put(0x40 + pci::kMsiMask64, 4, 0, 1);

  // Xen's order: create, map, enable, read vp_eport and bind, claim.
  id_ = must(hv_.create_ioreq_server());
  page_ = must(hv_.map_ioreq_page(id_));
  must(hv_.set_ioreq_server_enabled(id_, true));
  const unsigned vcpus = must(hv_.vcpu_count());
  for (unsigned v = 0; v < vcpus; ++v)
    ports_.emplace_back(must(evtchn_->bind(page_[v].vp_eport)), v);
  must(hv_.map_pcidev(id_, sbdf_));
  thread_ = std::thread([this] { run(); });
}

TestResponder::~TestResponder() {
  stop_ = true;
  thread_.join();
  (void)hv_.set_ioreq_server_enabled(id_, false);
  for (auto& [port, vcpu] : ports_) (void)evtchn_->unbind(port);
  if (claimed_) (void)hv_.unmap_mmio_range(id_, *claimed_);
  (void)hv_.unmap_pcidev(id_, sbdf_);
  hv_.unmap_ioreq_page(page_);
  (void)hv_.destroy_ioreq_server(id_);
}

void TestResponder::run() {
  while (!stop_) {
    pollfd pfd{evtchn_->fd(), POLLIN, 0};
    if (::poll(&pfd, 1, 20) <= 0) continue;
    auto port = evtchn_->pending();
    if (!port || !*port) continue;
    must(evtchn_->unmask(**port));  // pending, unmask, then handle
    serve(**port);
  }
}

void TestResponder::serve(hv::Port port) {
  unsigned vcpu = 0;
  for (auto& [p, v] : ports_) {
    if (p == port) vcpu = v;
  }
  ioreq_t* slot = &page_[vcpu];
  if (abi::load_state(slot) != STATE_IOREQ_READY) return;  // spurious
  ioreq_t req;
  std::memcpy(&req, slot, sizeof req);
  {
    std::lock_guard lock(mutex_);
    seen_.push_back(req);
  }
  if (mode_ == Mode::kNeverAnswer) return;
  abi::store_state(slot, STATE_IOREQ_INPROCESS);
  if (mode_ == Mode::kStateBackwards) {
    // Let the vCPU see INPROCESS first, or the regression is invisible.
    must(evtchn_->notify(port));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    abi::store_state(slot, STATE_IOREQ_READY);
    must(evtchn_->notify(port));
    return;
  }
  handle(req);
  if (req.dir == IOREQ_READ) slot->data = req.data;
  abi::store_state(slot, STATE_IORESP_READY);
  if (mode_ != Mode::kNoNotify) must(evtchn_->notify(port));
}

void TestResponder::handle(ioreq_t& req) {
  std::lock_guard lock(mutex_);
  if (req.type == IOREQ_TYPE_PCI_CONFIG) {
    req.data = config_access(req);
  } else if (req.type == IOREQ_TYPE_COPY && claimed_ && !req.data_is_ptr) {
    const uint64_t off = req.addr - claimed_->first;
    if (off + req.size > bar0_.size()) return;
    if (req.dir == IOREQ_READ) {
      uint64_t v = 0;
      std::memcpy(&v, &bar0_[off], req.size);
      req.data = v;
    } else {
      std::memcpy(&bar0_[off], &req.data, req.size);
    }
  } else if (req.dir == IOREQ_READ) {
    req.data = ~0ull;
  }
}

uint64_t TestResponder::config_access(const ioreq_t& req) {
  const uint32_t off = abi::pci_config_offset(req.addr);
  if (abi::pci_config_sbdf(req.addr) != sbdf_.packed() || off + req.size > config_.size()) {
    return req.dir == IOREQ_READ ? mask_of(req.size) : 0;
  }
  if (req.dir == IOREQ_WRITE) {
    config_write(off, req.size, static_cast<uint32_t>(req.data));
    return 0;
  }
  uint32_t v = 0;
  for (unsigned i = 0; i < req.size; ++i) v |= uint32_t{config_[off + i]} << (8 * i);
  return v;
}

void TestResponder::config_write(uint32_t offset, unsigned size, uint32_t value) {
  for (unsigned i = 0; i < size; ++i) {
    const auto byte = static_cast<uint8_t>(value >> (8 * i));
    uint8_t& cfg = config_[offset + i];
    cfg = static_cast<uint8_t>((cfg & ~wmask_[offset + i]) | (byte & wmask_[offset + i]));
  }
  if (offset < pci::kBar0 + 4 && offset + size > pci::kCommand) update_bar_claim();
}

// Live only with Memory Space on and a real address; unmap the
// exact old range before mapping the new one.
void TestResponder::update_bar_claim() {
  uint32_t bar = 0;
  std::memcpy(&bar, &config_[pci::kBar0], 4);
  const bool mem_on = (config_[pci::kCommand] & pci::kCommandMemorySpace) != 0;
  const uint64_t base = bar & 0xFFFFF000u;
  std::optional<hv::MmioRange> want;
  if (mem_on && base != 0 && base != 0xFFFFF000u) want = hv::MmioRange{base, base + 0xFFF};
  if (want == claimed_) return;
  if (claimed_) must(hv_.unmap_mmio_range(id_, *claimed_));
  if (want) must(hv_.map_mmio_range(id_, *want));
  claimed_ = want;
}

std::vector<ioreq_t> TestResponder::requests() const {
  std::lock_guard lock(mutex_);
  return seen_;
}

void TestResponder::clear_requests() {
  std::lock_guard lock(mutex_);
  seen_.clear();
}

uint32_t TestResponder::config(uint32_t offset, unsigned size) const {
  std::lock_guard lock(mutex_);
  uint32_t v = 0;
  for (unsigned i = 0; i < size; ++i) v |= uint32_t{config_[offset + i]} << (8 * i);
  return v;
}

}  // namespace vgpu::sim::testing
