// The real Xen adapter on a host without Xen: open() must fail with a clear
// Error and leave nothing open. Xen itself is not faked here (the simulator
// covers the ioreq protocol); on a real Dom0 these tests skip.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "vgpu/xen/xen_hypervisor.h"

namespace vgpu::xen {
namespace {

namespace fs = std::filesystem;

size_t open_fd_count() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

bool xen_present() {
  return fs::exists(XenHypervisor::kDefaultDevXen);
}

// A fresh empty directory, removed at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "vgpu-xen-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(XenAdapterOpen, MissingDevXenIsAClearEnoentError) {
  if (xen_present()) GTEST_SKIP() << "this host runs Xen";
  auto hv = XenHypervisor::open(7);
  ASSERT_FALSE(hv.ok());
  EXPECT_EQ(hv.error().code, ENOENT);
  EXPECT_EQ(hv.error().message, "/dev/xen is absent: run this in Dom0 of a Xen host");
}

TEST(XenAdapterOpen, InjectedMissingPathIsNamedInTheError) {
  auto hv = XenHypervisor::open(7, "/nonexistent/vgpu-test/xen");
  ASSERT_FALSE(hv.ok());
  EXPECT_EQ(hv.error().code, ENOENT);
  EXPECT_EQ(hv.error().message,
            "/nonexistent/vgpu-test/xen is absent: run this in Dom0 of a Xen host");
}

TEST(XenAdapterOpen, PresentDevXenWithoutDriversFailsOpeningTheFirstHandle) {
  if (xen_present()) GTEST_SKIP() << "this host runs Xen";
  TempDir dir;
  auto hv = XenHypervisor::open(7, dir.path());
  ASSERT_FALSE(hv.ok());
  EXPECT_NE(hv.error().code, 0);
  EXPECT_EQ(hv.error().message.rfind("cannot open xendevicemodel handle (/dev/xen/privcmd)", 0), 0u)
      << hv.error().describe();
}

TEST(XenAdapterOpen, FailedOpensLeakNoFileDescriptors) {
  if (xen_present()) GTEST_SKIP() << "this host runs Xen";
  TempDir dir;
  const size_t before = open_fd_count();
  for (int i = 0; i < 20; ++i) {
    EXPECT_FALSE(XenHypervisor::open(7).ok());
    EXPECT_FALSE(XenHypervisor::open(7, dir.path()).ok());
  }
  EXPECT_EQ(open_fd_count(), before);
}

}  // namespace
}  // namespace vgpu::xen
