// The real XenStore cannot be reached on a build machine: the factory must
// say so clearly instead of crashing or hanging.
#include "vgpu/xenstore/xs_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace vgpu::xenstore {
namespace {

bool xenstored_present() {
  return ::access("/run/xenstored/socket", F_OK) == 0 ||
         ::access("/var/run/xenstored/socket", F_OK) == 0 || ::access("/dev/xen/xenbus", F_OK) == 0;
}

TEST(XsStore, FactoryFailsClearlyWithoutXenstored) {
  if (xenstored_present()) GTEST_SKIP() << "xenstored is reachable on this machine";
  auto store = open_xenstore();
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().code, 0);
  EXPECT_NE(store.error().describe().find("cannot connect to xenstored"), std::string::npos)
      << store.error().describe();
}

}  // namespace
}  // namespace vgpu::xenstore
