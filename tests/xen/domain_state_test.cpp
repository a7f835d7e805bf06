// How the adapter reads xc_domain_getinfo's flags: a suspend (xl save, a
// checkpoint) is neither dying nor abnormal, every other shutdown is dying.
#include "../../src/xen/domain_state.h"

#include <gtest/gtest.h>

namespace vgpu::xen::detail {
namespace {

TEST(DomainState, RunningIsNeitherDyingNorSuspended) {
  const hv::DomainInfo i = domain_state(true, false, false, 0);
  EXPECT_TRUE(i.exists);
  EXPECT_TRUE(i.hvm);
  EXPECT_FALSE(i.dying);
  EXPECT_FALSE(i.suspended);
  EXPECT_FALSE(i.abnormal_shutdown);
}

TEST(DomainState, SuspendIsAPauseNotAnEnd) {
  const hv::DomainInfo i = domain_state(true, false, true, kShutdownSuspend);
  EXPECT_TRUE(i.suspended);
  EXPECT_FALSE(i.dying) << "the daemon would tear down under a checkpoint";
  EXPECT_FALSE(i.abnormal_shutdown);
}

TEST(DomainState, ASuspendedDomainBeingDestroyedIsDying) {
  const hv::DomainInfo i = domain_state(true, true, true, kShutdownSuspend);
  EXPECT_FALSE(i.suspended);
  EXPECT_TRUE(i.dying);
}

TEST(DomainState, EveryOtherShutdownIsDying) {
  for (unsigned reason : {kShutdownPoweroff, kShutdownReboot, kShutdownCrash, kShutdownWatchdog,
                          kShutdownSoftReset}) {
    const hv::DomainInfo i = domain_state(true, false, true, reason);
    EXPECT_TRUE(i.dying) << reason;
    EXPECT_FALSE(i.suspended) << reason;
    EXPECT_EQ(i.abnormal_shutdown, reason != kShutdownPoweroff) << reason;
  }
}

}  // namespace
}  // namespace vgpu::xen::detail
