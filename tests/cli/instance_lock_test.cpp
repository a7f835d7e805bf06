#include "vgpu/app/instance_lock.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace vgpu::app {
namespace {

namespace fs = std::filesystem;

// A fresh run directory (one level below a temp dir, so acquire creates it).
class InstanceLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "vgpu-lock-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    base_ = tmpl;
    run_dir_ = base_ + "/run/vgpu-ioreqd";
  }
  void TearDown() override { fs::remove_all(base_); }

  std::string base_;
  std::string run_dir_;
  const pci::Sbdf sbdf_{0, 0, 5, 0};
};

TEST_F(InstanceLockTest, CreatesTheRunDirAndAPidFile) {
  auto lock = InstanceLock::acquire(run_dir_, 7, sbdf_);
  ASSERT_TRUE(lock.ok()) << lock.error().describe();
  EXPECT_EQ(lock->path(), run_dir_ + "/dom7-0000-00-05.0.lock");
  EXPECT_TRUE(fs::exists(lock->path()));
  EXPECT_EQ(fs::file_size(lock->path()), std::to_string(::getpid()).size() + 1);
}

TEST_F(InstanceLockTest, SecondClaimOfTheSameSbdfIsBusyAndNamesTheHolder) {
  auto first = InstanceLock::acquire(run_dir_, 7, sbdf_);
  ASSERT_TRUE(first.ok()) << first.error().describe();
  auto second = InstanceLock::acquire(run_dir_, 7, sbdf_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, EBUSY);
  EXPECT_EQ(second.error().message,
            "SBDF 0000:00:05.0 of domain 7 is already claimed by another vgpu-ioreqd (pid " +
                std::to_string(::getpid()) + ")");
  // The failed attempt must not have disturbed the holder's file.
  EXPECT_TRUE(fs::exists(first->path()));
}

TEST_F(InstanceLockTest, OtherSbdfsAndDomainsAreIndependent) {
  auto a = InstanceLock::acquire(run_dir_, 7, sbdf_);
  auto b = InstanceLock::acquire(run_dir_, 7, pci::Sbdf{0, 0, 6, 0});
  auto c = InstanceLock::acquire(run_dir_, 8, sbdf_);
  EXPECT_TRUE(a.ok());
  EXPECT_TRUE(b.ok());
  EXPECT_TRUE(c.ok());
}

TEST_F(InstanceLockTest, ReleasingRemovesTheFileAndFreesTheClaim) {
  std::string path;
  {
    auto lock = InstanceLock::acquire(run_dir_, 7, sbdf_);
    ASSERT_TRUE(lock.ok());
    path = lock->path();
  }
  EXPECT_FALSE(fs::exists(path));
  auto again = InstanceLock::acquire(run_dir_, 7, sbdf_);
  EXPECT_TRUE(again.ok());
}

TEST_F(InstanceLockTest, MovedFromLockReleasesNothing) {
  auto lock = InstanceLock::acquire(run_dir_, 7, sbdf_);
  ASSERT_TRUE(lock.ok());
  InstanceLock moved = std::move(lock).value();
  { InstanceLock gone = std::move(moved); }
  EXPECT_FALSE(fs::exists(run_dir_ + "/dom7-0000-00-05.0.lock"));
  EXPECT_TRUE(InstanceLock::acquire(run_dir_, 7, sbdf_).ok());
}

TEST_F(InstanceLockTest, StaleFileFromADeadDaemonIsReclaimed) {
  fs::create_directories(run_dir_);
  const std::string path = run_dir_ + "/" + InstanceLock::file_name(7, sbdf_);
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    std::fputs("999999\n", f);
    std::fclose(f);
  }
  auto lock = InstanceLock::acquire(run_dir_, 7, sbdf_);
  ASSERT_TRUE(lock.ok()) << lock.error().describe();
}

// What an attacker who could write to the run directory would plant; the
// daemon runs as root, so following it would truncate any file.
std::string slurp(const std::string& path) {
  std::string text;
  if (std::FILE* f = std::fopen(path.c_str(), "r")) {
    char buf[256];
    size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    std::fclose(f);
  }
  return text;
}

void spit(const std::string& path, const std::string& text) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr) << path;
  std::fputs(text.c_str(), f);
  std::fclose(f);
}

TEST_F(InstanceLockTest, SymlinkedLockFileIsRefusedAndItsTargetUntouched) {
  fs::create_directories(run_dir_);
  const std::string victim = base_ + "/precious";
  spit(victim, "precious\n");
  fs::create_symlink(victim, run_dir_ + "/" + InstanceLock::file_name(7, sbdf_));
  auto lock = InstanceLock::acquire(run_dir_, 7, sbdf_);
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.error().code, ELOOP);
  EXPECT_NE(lock.error().message.find("is a symbolic link; refusing"), std::string::npos)
      << lock.error().message;
  EXPECT_EQ(slurp(victim), "precious\n");
}

TEST_F(InstanceLockTest, HardLinkedLockFileIsRefusedAndItsTargetUntouched) {
  fs::create_directories(run_dir_);
  const std::string victim = base_ + "/precious";
  spit(victim, "precious\n");
  fs::create_hard_link(victim, run_dir_ + "/" + InstanceLock::file_name(7, sbdf_));
  auto lock = InstanceLock::acquire(run_dir_, 7, sbdf_);
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.error().code, EPERM);
  EXPECT_NE(lock.error().message.find("2 links"), std::string::npos) << lock.error().message;
  EXPECT_EQ(slurp(victim), "precious\n");
}

TEST_F(InstanceLockTest, RunDirThatIsASymlinkIsRefused) {
  fs::create_directories(base_ + "/elsewhere");
  fs::create_directories(fs::path(run_dir_).parent_path());
  fs::create_directory_symlink(base_ + "/elsewhere", run_dir_);
  auto lock = InstanceLock::acquire(run_dir_, 7, sbdf_);
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.error().code, ELOOP);
  EXPECT_EQ(lock.error().message, "run directory " + run_dir_ + " is a symbolic link; refusing");
  EXPECT_TRUE(fs::is_empty(base_ + "/elsewhere"));
}

TEST_F(InstanceLockTest, RunDirWritableByOthersIsRefused) {
  for (const fs::perms mode : {fs::perms(0777), fs::perms(0775), fs::perms(0757)}) {
    fs::create_directories(run_dir_);
    fs::permissions(run_dir_, mode);
    auto lock = InstanceLock::acquire(run_dir_, 7, sbdf_);
    ASSERT_FALSE(lock.ok()) << std::oct << static_cast<int>(mode);
    EXPECT_EQ(lock.error().code, EPERM);
    EXPECT_NE(lock.error().message.find("is writable by others"), std::string::npos)
        << lock.error().message;
    EXPECT_TRUE(fs::is_empty(run_dir_)) << "no lock file created";
  }
}

TEST_F(InstanceLockTest, RunDirOwnedBySomeoneElseIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give the directory away";
  fs::create_directories(run_dir_);
  fs::permissions(run_dir_, fs::perms(0755));
  ASSERT_EQ(::chown(run_dir_.c_str(), 4242, 4242), 0);
  auto lock = InstanceLock::acquire(run_dir_, 7, sbdf_);
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.error().code, EPERM);
  EXPECT_NE(lock.error().message.find("is owned by uid 4242"), std::string::npos)
      << lock.error().message;
}

TEST_F(InstanceLockTest, CreatedRunDirIsNotGroupWritableWhateverTheUmask) {
  const mode_t old = ::umask(002);
  auto lock = InstanceLock::acquire(run_dir_, 7, sbdf_);
  ::umask(old);
  ASSERT_TRUE(lock.ok()) << lock.error().describe();
  EXPECT_EQ(fs::status(run_dir_).permissions(), fs::perms(0755));
}

TEST_F(InstanceLockTest, UncreatableRunDirIsAnError) {
  auto lock = InstanceLock::acquire("/proc/vgpu-ioreqd-cannot-exist", 7, sbdf_);
  ASSERT_FALSE(lock.ok());
  EXPECT_NE(lock.error().message.find("/proc/vgpu-ioreqd-cannot-exist"), std::string::npos);
}

}  // namespace
}  // namespace vgpu::app
