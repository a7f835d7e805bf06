// The vGPU stub PCI device (docs/spec.md §2, §3 and Part II): its identity,
// BAR0 as the register file (0x000-0x3FF) and the command queue's registers
// (0x400-0x47F), and device memory on the CPU compute backend.
// Configuration space and MSI come from pci::ConfigSpaceDevice; this class
// adds only what makes the device itself.
//
// Thread-compatible: callers serialise access. The queue's worker never
// calls in here: it makes event_fd() readable, and the loop then calls
// on_event() (MSI for completions it posted, the queue state it reports).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "vgpu/common/result.h"
#include "vgpu/compute/backend.h"
#include "vgpu/device/register_file.h"
#include "vgpu/pci/pci_device.h"
#include "vgpu/queue/command_queue.h"

namespace vgpu::device {

// What an administrator may choose on the command line (docs/spec.md §5).
struct StubConfig {
  uint64_t bar0_size = 4096;
  uint32_t class_code = 0x120000;                // processing accelerator
  uint64_t mem_limit = queue::kDefaultMemLimit;  // MEM_TOTAL: device memory per guest
  // A file to keep device memory in, so that it outlives the process
  // (docs/spec.md §12); each stub maps a dup of it. -1: an anonymous memfd.
  int memory_fd = -1;
};

// The stub's own XenStore backend keys (docs/spec.md §10): the queue's state
// ("disabled", "ready" or "fatal") and MEM_TOTAL in bytes.
inline constexpr const char* kQueueStatusKey = "queue";
inline constexpr const char* kMemLimitStatusKey = "mem-limit";

// BAR0 limits: at least the 4 KiB register layout (and a page, which is
// what Xen maps), at most 1 GiB so a 32-bit BAR still fits below 4 GiB.
inline constexpr uint64_t kMinBar0Size = 4096;
inline constexpr uint64_t kMaxBar0Size = uint64_t{1} << 30;

// Each returns an error naming the problem ("BAR0 size 6000 is not a power
// of two"); the command line reports it as it is.
Status validate_bar0_size(uint64_t bytes);
Status validate_class_code(uint64_t class_code);
Status validate_mem_limit(uint64_t bytes);
Status validate(const StubConfig& config);

// The stub's identity (docs/spec.md §2): the one place its IDs, class and
// BAR live. The device, XenStore and the logs all read it from here.
pci::DeviceIdentity stub_identity(const StubConfig& config);

// Builds stubs as `config` says (which must pass validate()).
pci::DeviceFactory stub_factory(const StubConfig& config);

class VgpuStub final : public pci::ConfigSpaceDevice {
 public:
  static constexpr unsigned kRegisterBar = 0;

  // `config` must pass validate() (std::invalid_argument otherwise).
  // std::runtime_error when device memory cannot be set up.
  VgpuStub(const StubConfig& config, const pci::DeviceContext& context);
  ~VgpuStub() override;

  // BAR0 only, any size 1..8 at any alignment: each byte is answered by the
  // register file or the queue, whichever owns it. A write that completes a
  // register command, or queue commands run before the doorbell is answered,
  // raises MSI once (or sets its pending bit while the vector is masked).
  uint64_t bar_read(unsigned bar, uint64_t offset, unsigned size) override;
  void bar_write(unsigned bar, uint64_t offset, unsigned size, uint64_t value) override;

  int event_fd() const override { return queue_->event_fd(); }
  void on_event() override;
  void shutdown() override;
  void abandon() override;

  const RegisterFile& registers() const { return regs_; }
  const queue::CommandQueue& command_queue() const { return *queue_; }

 private:
  // Rings and buffers are touched only while the guest lets us master the
  // bus; the queue decides what clearing it means.
  void config_written(const pci::ConfigWriteEffects& effects) override;
  void save_device_state(StateWriter& out) const override;
  Status restore_device_state(StateReader& in) override;
  void raise_completions();
  void report_queue_state();

  RegisterFile regs_;
  std::unique_ptr<compute::Backend> backend_;  // device memory
  std::unique_ptr<queue::CommandQueue> queue_;
  pci::StatusSink& status_;
  std::optional<queue::QueueState> reported_;
  bool shut_down_ = false;
};

}  // namespace vgpu::device
