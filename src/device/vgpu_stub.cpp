#include "vgpu/device/vgpu_stub.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <bit>
#include <stdexcept>
#include <string>

#include "vgpu/common/hex.h"
#include "vgpu/compute/cpu_backend.h"

namespace vgpu::device {

namespace {

constexpr uint16_t kStubVendorId = 0x1AF4;
constexpr uint16_t kStubDeviceId = 0x1111;
constexpr uint16_t kStubSubsystemVendorId = 0x1AF4;
constexpr uint16_t kStubSubsystemId = 0x1111;
constexpr uint8_t kStubRevision = 0x01;

// Device memory's address space, in multiples of the quota: room enough that
// first-fit placement does not fail for fragmentation (pages cost nothing
// until used), bounded so that a large limit cannot exhaust address space.
constexpr uint64_t kDeviceSpaceFactor = 16;
constexpr uint64_t kMaxDeviceSpace = uint64_t{1} << 40;
constexpr uint64_t kMaxMemLimit = uint64_t{64} << 30;

}  // namespace

Status validate_bar0_size(uint64_t bytes) {
  const std::string size = std::to_string(bytes);
  if (!std::has_single_bit(bytes)) return Error{0, "BAR0 size " + size + " is not a power of two"};
  if (bytes < kMinBar0Size) {
    return Error{0, "BAR0 size " + size + " is below " + std::to_string(kMinBar0Size) +
                        " bytes (the register layout, and one page)"};
  }
  if (bytes > kMaxBar0Size) {
    return Error{0, "BAR0 size " + size + " exceeds 1 GiB, the limit for a 32-bit BAR"};
  }
  return ok_status();
}

Status validate_class_code(uint64_t class_code) {
  if (class_code > pci::kMaxClassCode) {
    return Error{
        0, "class code " + hex(class_code) + " does not fit in 24 bits (class, subclass, prog-if)"};
  }
  return ok_status();
}

Status validate_mem_limit(uint64_t bytes) {
  const uint64_t granule = compute::CpuBackend::kGranule;
  const std::string size = std::to_string(bytes);
  if (bytes < granule) return Error{0, "memory limit " + size + " is below 4 KiB"};
  if (bytes > kMaxMemLimit) return Error{0, "memory limit " + size + " is above 64 GiB"};
  if (bytes % granule != 0) {
    return Error{0, "memory limit " + size + " is not a multiple of 4 KiB, the allocation granule"};
  }
  return ok_status();
}

Status validate(const StubConfig& config) {
  if (Status s = validate_bar0_size(config.bar0_size); !s) return s;
  if (Status s = validate_mem_limit(config.mem_limit); !s) return s;
  return validate_class_code(config.class_code);
}

pci::DeviceIdentity stub_identity(const StubConfig& config) {
  pci::DeviceIdentity id;
  id.vendor_id = kStubVendorId;
  id.device_id = kStubDeviceId;
  id.subsystem_vendor_id = kStubSubsystemVendorId;
  id.subsystem_id = kStubSubsystemId;
  id.revision = kStubRevision;
  id.class_code = config.class_code;
  id.bars[VgpuStub::kRegisterBar] =
      pci::BarSpec{.size = config.bar0_size};  // 32-bit, non-prefetchable
  return id;
}

pci::DeviceFactory stub_factory(const StubConfig& config) {
  return [config](const pci::DeviceContext& context) {
    return std::make_unique<VgpuStub>(config, context);
  };
}

namespace {

const StubConfig& checked(const StubConfig& config) {
  if (Status s = validate(config); !s) throw std::invalid_argument(s.error().describe());
  return config;
}

std::unique_ptr<compute::Backend> make_device_memory(uint64_t mem_limit, int memory_fd) {
  const uint64_t space =
      std::max(std::min(mem_limit * kDeviceSpaceFactor, kMaxDeviceSpace), mem_limit);
  Result<std::unique_ptr<compute::CpuBackend>> backend = Error{};
  if (memory_fd < 0) {
    backend = compute::CpuBackend::create_memfd(space);
  } else {
    const int fd = ::fcntl(memory_fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("device memory: " + errno_error("dup").describe());
    backend = compute::CpuBackend::create(fd, space);
  }
  if (!backend) throw std::runtime_error("device memory: " + backend.error().describe());
  return std::move(*backend);
}

}  // namespace

VgpuStub::VgpuStub(const StubConfig& config, const pci::DeviceContext& context)
    : ConfigSpaceDevice(stub_identity(checked(config)), &context.msi),
      backend_(make_device_memory(config.mem_limit, config.memory_fd)),
      queue_(std::make_unique<queue::CommandQueue>(context.dma, *backend_,
                                                   queue::QueueConfig{config.mem_limit})),
      status_(context.status) {}

VgpuStub::~VgpuStub() {
  shutdown();
}

uint64_t VgpuStub::bar_read(unsigned bar, uint64_t offset, unsigned size) {
  if (bar != kRegisterBar) return 0;  // the host routes only live BARs; there is no other
  return regs_.read(offset, size) | queue_->read(offset, size);
}

void VgpuStub::bar_write(unsigned bar, uint64_t offset, unsigned size, uint64_t value) {
  if (bar != kRegisterBar) return;
  if (regs_.write(offset, size, value)) signal_msi();
  queue_->write(offset, size, value);
  raise_completions();
  report_queue_state();
}

void VgpuStub::on_event() {
  queue_->clear_event();
  raise_completions();
  report_queue_state();
}

void VgpuStub::shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  queue_->shutdown();
  const auto qs = queue_->stats();
  spdlog::info(
      "command queue: {} commands ({} before the doorbell answer, {} on the worker), {} "
      "completions, {} aborted, {} MSIs",
      qs.inline_commands + qs.worker_commands, qs.inline_commands, qs.worker_commands,
      qs.completions, qs.aborted, qs.interrupts);
}

void VgpuStub::abandon() {
  shut_down_ = true;
  queue_->abandon();
}

void VgpuStub::save_device_state(StateWriter& out) const {
  out.put(regs_.storage());
  queue_->save(out);
}

Status VgpuStub::restore_device_state(StateReader& in) {
  auto regs = in.get<RegisterFile::Storage>();
  if (!regs) return Error{EINVAL, "saved state: registers truncated"};
  regs_.restore(*regs);
  const bool bus_master = (config().command() & pci::kCommandBusMaster) != 0;
  if (Status s = queue_->restore(in, bus_master); !s) return s;
  reported_.reset();
  raise_completions();
  report_queue_state();
  return ok_status();
}

void VgpuStub::config_written(const pci::ConfigWriteEffects&) {
  queue_->set_bus_master((config().command() & pci::kCommandBusMaster) != 0);
  report_queue_state();
}

// One MSI for however many completions were posted since the last.
void VgpuStub::raise_completions() {
  if (queue_->take_interrupt()) signal_msi();
}

void VgpuStub::report_queue_state() {
  const queue::QueueState now = queue_->state();
  if (reported_ == now) return;
  reported_ = now;
  status_.status_changed(kQueueStatusKey, queue::to_string(now));
}

}  // namespace vgpu::device
