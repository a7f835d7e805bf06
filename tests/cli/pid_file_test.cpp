// The pid file is written as root: nothing planted under its name or its
// temporary name may redirect that write (docs/hardening.md).
#include "vgpu/app/pid_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace vgpu::app {
namespace {

namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class PidFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "vgpu-pid-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/7.pid";
    victim_ = dir_ + "/precious";
    std::ofstream(victim_) << "precious\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string dir_, path_, victim_;
  const std::string our_pid_ = std::to_string(::getpid()) + "\n";
};

TEST_F(PidFileTest, WritesOurPidAndRemovesTheFileAtTheEnd) {
  {
    auto pf = PidFile::create(path_);
    ASSERT_TRUE(pf.ok()) << pf.error().describe();
    EXPECT_EQ(slurp(path_), our_pid_);
  }
  EXPECT_FALSE(fs::exists(path_));
}

TEST_F(PidFileTest, SymlinkUnderTheTemporaryNameDoesNotRedirectTheWrite) {
  fs::create_symlink(victim_, path_ + ".tmp");
  auto pf = PidFile::create(path_);
  ASSERT_TRUE(pf.ok()) << pf.error().describe();
  EXPECT_EQ(slurp(victim_), "precious\n");
  EXPECT_FALSE(fs::is_symlink(path_));
  EXPECT_EQ(slurp(path_), our_pid_);
}

TEST_F(PidFileTest, SymlinkUnderTheNameIsRefused) {
  fs::create_symlink(victim_, path_);
  const Status checked = PidFile::check(path_);
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.error().message, "pid file " + path_ + " is a symbolic link; refusing");
  auto pf = PidFile::create(path_);
  ASSERT_FALSE(pf.ok());
  EXPECT_EQ(pf.error().code, ELOOP);
  EXPECT_TRUE(fs::is_symlink(path_));
  EXPECT_EQ(slurp(victim_), "precious\n");
}

TEST_F(PidFileTest, DirectoryOthersMayWriteIsRefused) {
  fs::permissions(dir_, fs::perms(0777));
  const Status checked = PidFile::check(path_);
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.error().code, EPERM);
  EXPECT_NE(checked.error().message.find("pid file directory " + dir_ + " is writable by others"),
            std::string::npos)
      << checked.error().message;
  fs::permissions(dir_, fs::perms(0700));
  EXPECT_TRUE(PidFile::check(path_).ok());
}

}  // namespace
}  // namespace vgpu::app
