// The pure parts of keeping the serving thread on its event-channel IRQs'
// CPU: which /proc/interrupts lines are ours, and kernel CPU lists. (The
// /proc writes and the pinning run in the end-to-end test under real Xen.)
#include "../../src/xen/evtchn_irq_affinity.h"

#include <gtest/gtest.h>
#include <sys/prctl.h>

#include <array>
#include <string>

namespace vgpu::xen::detail {
namespace {

// A PV Dom0's /proc/interrupts from the end-to-end test, two guests served.
constexpr std::string_view kInterrupts =
    "           CPU0       CPU1       \n"
    "  40:          0          0  xen-dyn-lateeoi    -event     evtchn:xenstored\n"
    "  43:        317          0  xen-dyn-lateeoi    -event     evtchn:xenconsoled\n"
    "  44:          1       6298  xen-dyn-lateeoi    -event     evtchn:xen-qemu-system\n"
    "  46:          1       1850  xen-dyn-lateeoi    -event     evtchn:vgpu-d1\n"
    "  47:          0          3  xen-dyn-lateeoi    -event     evtchn:vgpu-d12\n"
    "  48:         12          0  xen-dyn-lateeoi    -event     evtchn:vgpu-d1\n"
    " NMI:          0          0   Non-maskable interrupts\n"
    " RES:        911        850   Rescheduling interrupts\n";

TEST(EvtchnIrqAffinity, FindsExactlyTheIrqsOfOneDomain) {
  EXPECT_EQ(irqs_named(kInterrupts, "evtchn:vgpu-d1"), (std::vector<unsigned>{46, 48}));
  EXPECT_EQ(irqs_named(kInterrupts, "evtchn:vgpu-d12"), (std::vector<unsigned>{47}));
  EXPECT_TRUE(irqs_named(kInterrupts, "evtchn:vgpu-d2").empty());
}

TEST(EvtchnIrqAffinity, SkipsHeaderSymbolicRowsAndGarbage) {
  EXPECT_TRUE(irqs_named(kInterrupts, "interrupts").empty()) << "RES/NMI rows have no number";
  EXPECT_TRUE(irqs_named("", "evtchn:vgpu-d1").empty());
  EXPECT_TRUE(
      irqs_named("garbage without fields\n:\n  x: evtchn:vgpu-d1\n", "evtchn:vgpu-d1").empty());
  EXPECT_EQ(irqs_named("  9: 1 evtchn:vgpu-d1", "evtchn:vgpu-d1"), (std::vector<unsigned>{9}))
      << "last line without a newline";
}

TEST(EvtchnIrqAffinity, FirstCpuOfKernelCpuLists) {
  EXPECT_EQ(first_cpu_in_list("1"), 1u);
  EXPECT_EQ(first_cpu_in_list("0-3"), 0u);
  EXPECT_EQ(first_cpu_in_list("2,5-7"), 2u);
  EXPECT_EQ(first_cpu_in_list("17"), 17u);
  EXPECT_FALSE(first_cpu_in_list(""));
  EXPECT_FALSE(first_cpu_in_list("ff"));
  EXPECT_FALSE(first_cpu_in_list("-1"));
}

TEST(EvtchnIrqAffinity, IrqNameFitsTheKernelsCommLength) {
  EXPECT_EQ(irq_thread_name(1), "vgpu-d1");
  EXPECT_LE(irq_thread_name(65535).size(), 15u);
}

TEST(EvtchnIrqAffinity, ScopedThreadNameRestoresTheOldName) {
  std::array<char, 16> name{};
  ASSERT_EQ(prctl(PR_GET_NAME, name.data()), 0);
  const std::string before = name.data();
  {
    ScopedThreadName scoped(irq_thread_name(7));
    ASSERT_EQ(prctl(PR_GET_NAME, name.data()), 0);
    EXPECT_STREQ(name.data(), "vgpu-d7");
  }
  ASSERT_EQ(prctl(PR_GET_NAME, name.data()), 0);
  EXPECT_EQ(before, name.data());
}

TEST(EvtchnIrqAffinity, NothingToDoWithoutOurIrqs) {
  // This machine has no Xen: no IRQ is named after a domain, so nothing is
  // pinned and the caller serves as before.
  EXPECT_FALSE(colocate_with_event_irqs(4242, std::nullopt));
}

}  // namespace
}  // namespace vgpu::xen::detail
