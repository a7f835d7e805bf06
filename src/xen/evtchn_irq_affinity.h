// Keeps the serving thread on the CPU that takes its event-channel interrupts.
//
// Linux's evtchn driver turns each port bound through /dev/xen/evtchn into an
// IRQ named "evtchn:<name of the thread that opened the device>" and spreads
// those IRQs round-robin over Dom0's vCPUs. When the IRQ fires on another vCPU
// than the one the daemon sleeps on, every request pays a cross-CPU wake-up,
// which in a PV Dom0 is an IPI through the hypervisor. Measured in the real
// guest (docs/performance.md): a BAR0 read took 1.41 ms with the IRQ on the
// other vCPU and 0.80-0.91 ms with the daemon on the IRQ's vCPU.
//
// So the Xen adapter opens the evtchn device under a per-domain thread name
// (the IRQs then read "evtchn:vgpu-d<domid>" in /proc/interrupts, which also
// tells an administrator whose they are), and after each bind moves our IRQs
// to one CPU and pins the serving thread there. All of it is best effort: a
// failure is logged and the daemon serves unpinned, as before.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vgpu::xen::detail {

// The thread name under which the evtchn device is opened: "vgpu-d<domid>"
// (at most 11 characters, within Linux's 15).
std::string irq_thread_name(uint16_t domid);

// Renames the calling thread for its lifetime, then restores the old name.
class ScopedThreadName {
 public:
  explicit ScopedThreadName(const std::string& name);
  ~ScopedThreadName();
  ScopedThreadName(const ScopedThreadName&) = delete;
  ScopedThreadName& operator=(const ScopedThreadName&) = delete;

 private:
  std::string old_;
  bool renamed_ = false;
};

// The IRQ numbers of the /proc/interrupts lines whose name (last field) is
// exactly `name`, in file order.
std::vector<unsigned> irqs_named(std::string_view proc_interrupts, std::string_view name);

// The first CPU of a kernel CPU list ("1", "0-3", "2,5-7"); nullopt if the
// text is not one.
std::optional<unsigned> first_cpu_in_list(std::string_view cpu_list);

// Moves every IRQ named "evtchn:<irq_thread_name(domid)>" to one CPU (the
// first IRQ's, if the thread may run there) and pins the calling thread to
// it. Returns the CPU, or nullopt if nothing was done (reason logged). The
// result is logged at info unless it equals `previous_cpu`, the CPU an
// earlier call returned (every bind calls this; one line says it all).
std::optional<unsigned> colocate_with_event_irqs(uint16_t domid,
                                                 std::optional<unsigned> previous_cpu);

}  // namespace vgpu::xen::detail
