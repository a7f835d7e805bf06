// Every hardening test runs against a fresh rig and ends with the same
// checks: no protocol violation (no stuck slot) and no leaked claim, page or
// event channel once the server is torn down.
#pragma once

#include <gtest/gtest.h>

#include "hardening_rig.h"

namespace vgpu::hardening {

class HardeningTest : public ::testing::Test {
 protected:
  void SetUp() override { rig.start(); }

  void TearDown() override {
    rig.stop();
    EXPECT_EQ(claim_leaks(rig.hv().calls(), rig.id()), "");
    EXPECT_EQ(rig.hv().mapped_pages(), 0u);
    EXPECT_EQ(rig.hv().bound_ports(), 0u);
    EXPECT_TRUE(rig.hv().servers().empty());
    EXPECT_TRUE(rig.hv().violations().empty()) << rig.hv().violations().front();
  }

  Rig rig;
};

}  // namespace vgpu::hardening
