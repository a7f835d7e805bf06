// The state file (vgpu/app/state_file.h): whose state it is, the newest
// complete save wins, a torn or corrupt save is never loaded, and the file
// is refused when it could have been planted.
#include "vgpu/app/state_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

namespace vgpu::app {
namespace {

class StateFileTest : public ::testing::Test {
 protected:
  StateFileTest() {
    char tmpl[] = "/tmp/vgpu-state-XXXXXX";
    path = ::mkdtemp(tmpl);
    dir = ::open(path.c_str(), O_DIRECTORY | O_CLOEXEC);
  }
  ~StateFileTest() override {
    ::unlinkat(dir, "s", 0);
    ::unlinkat(dir, "link", 0);
    ::close(dir);
    ::rmdir(path.c_str());
  }
  std::unique_ptr<StateFile> open() {
    auto f = StateFile::open(dir, "s");
    EXPECT_TRUE(f) << (f ? "" : f.error().describe());
    return f ? std::move(*f) : nullptr;
  }
  static std::vector<std::byte> bytes(std::string_view s) {
    const auto* p = reinterpret_cast<const std::byte*>(s.data());
    return {p, p + s.size()};
  }
  // Flips one byte of the file at `offset`, as a torn write or tampering would.
  void corrupt(off_t offset) {
    const int fd = ::openat(dir, "s", O_RDWR | O_CLOEXEC);
    unsigned char b = 0;
    ASSERT_EQ(::pread(fd, &b, 1, offset), 1);
    b ^= 0xFF;
    ASSERT_EQ(::pwrite(fd, &b, 1, offset), 1);
    ::close(fd);
  }

  std::string path;
  int dir = -1;
  StateOwner owner{7, pci::Sbdf{0, 0, 5, 0}, {1, 2, 3}};
};

TEST_F(StateFileTest, NamesTheServerOnlyForTheSameDomainSbdfAndDomainHandle) {
  auto f = open();
  f->reset(owner);
  EXPECT_FALSE(f->server_for(owner)) << "no server yet";
  f->set_server(3);
  // Named before anything is saved: a daemon killed before its first save
  // left this server, and only its successor can destroy it.
  EXPECT_EQ(f->server_for(owner), hv::ServerId{3});
  EXPECT_EQ(f->load().error().code, ENOENT) << "no saved state yet";
  f->save(bytes("device state"));
  EXPECT_EQ(f->server_for(owner), hv::ServerId{3});

  StateOwner other = owner;
  other.domain_handle[0] = 9;  // the domid was reused by another domain
  EXPECT_FALSE(f->server_for(other));
  other = owner;
  other.domid = 8;
  EXPECT_FALSE(f->server_for(other));
  other = owner;
  other.sbdf.device = 6;
  EXPECT_FALSE(f->server_for(other));

  f.reset();
  auto again = open();  // another process opening the same file
  EXPECT_EQ(again->server_for(owner), hv::ServerId{3});
  EXPECT_EQ(*again->load(), bytes("device state"));
  again->forget_server();
  EXPECT_FALSE(again->server_for(owner));
  EXPECT_FALSE(again->load());
}

TEST_F(StateFileTest, TheNewestCompleteSaveWinsAndACorruptOneIsSkipped) {
  auto f = open();
  f->reset(owner);
  f->save(bytes("one"));
  f->save(bytes("two"));
  f->save(bytes("three"));
  EXPECT_EQ(*f->load(), bytes("three"));
  EXPECT_EQ(f->saves(), 3u);
  // "three" went to slot 0 (slots alternate: one→0, two→1, three→0). A
  // save torn in the middle of its data leaves its CRC wrong.
  corrupt(4096 + 4096 + 1);
  EXPECT_EQ(*f->load(), bytes("two")) << "the previous whole save";
  corrupt(4096 + (4096 + StateFile::kSlotCapacity) + 4096);
  EXPECT_FALSE(f->load()) << "nothing valid is left";
}

TEST_F(StateFileTest, AnOversizedSaveKeepsThePreviousOne) {
  auto f = open();
  f->reset(owner);
  f->save(bytes("kept"));
  f->save(std::vector<std::byte>(StateFile::kSlotCapacity + 1));
  EXPECT_EQ(*f->load(), bytes("kept"));
}

TEST_F(StateFileTest, ASymlinkInItsPlaceIsRefused) {
  ASSERT_EQ(::symlinkat("/etc/passwd", dir, "s"), 0);
  auto f = StateFile::open(dir, "s");
  EXPECT_FALSE(f);
}

}  // namespace
}  // namespace vgpu::app
