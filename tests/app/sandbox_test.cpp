// The worker's sandbox, in forked children: what /proc says about a
// sandboxed process, that an unlisted system call kills it with SIGSYS, that
// it cannot open files, and that it can still do what serving needs.
#include "vgpu/app/sandbox.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "../support/proc_status.h"

namespace vgpu::app {
namespace {

const WorkerUser kNobody{65534, 65534, "65534"};

// Runs `body` in a forked child after sandboxing it; returns the wait
// status. `body`'s return value is the child's exit code.
int sandboxed(const std::function<int()>& body,
              const std::function<void(pid_t)>& while_alive = {}) {
  int go[2];
  int ready[2];
  if (::pipe(go) < 0 || ::pipe(ready) < 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    int rc = 100;
    if (drop_privileges(kNobody) && install_worker_seccomp()) {
      char c = 'r';
      rc = ::write(ready[1], &c, 1) == 1 && ::read(go[0], &c, 1) == 1 ? body() : 101;
    }
    ::_exit(rc);
  }
  char c = 0;
  if (::read(ready[0], &c, 1) == 1 && while_alive) while_alive(pid);
  [[maybe_unused]] ssize_t n = ::write(go[1], "g", 1);
  int status = 0;
  ::waitpid(pid, &status, 0);
  for (int fd : {go[0], go[1], ready[0], ready[1]}) ::close(fd);
  return status;
}

using testing::proc_status;

TEST(Sandbox, ProcShowsNoRootNoCapabilitiesNoNewPrivsAndAFilter) {
  std::map<std::string, std::string> status;
  const int ws = sandboxed([] { return 0; }, [&](pid_t pid) { status = proc_status(pid); });
  ASSERT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 0) << ws;
  if (::geteuid() == 0) {
    EXPECT_EQ(status["Uid"].substr(0, 5), "65534") << status["Uid"];
  }
  EXPECT_NE(status["Uid"].substr(0, 2), "0\t");
  EXPECT_EQ(status["CapEff"], "0000000000000000");
  EXPECT_EQ(status["CapPrm"], "0000000000000000");
  EXPECT_EQ(status["CapBnd"], "0000000000000000");
  EXPECT_EQ(status["NoNewPrivs"], "1");
  EXPECT_EQ(status["Seccomp"], "2");
}

TEST(Sandbox, AnUnlistedSystemCallKillsWithSigsys) {
  const int ws = sandboxed([] {
    ::syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
    return 0;
  });
  ASSERT_TRUE(WIFSIGNALED(ws)) << "exited with " << WEXITSTATUS(ws);
  EXPECT_EQ(WTERMSIG(ws), SIGSYS);
  const int exec = sandboxed([] {
    const char* argv[] = {"/bin/true", nullptr};
    ::execv(argv[0], const_cast<char* const*>(argv));
    return 0;
  });
  ASSERT_TRUE(WIFSIGNALED(exec));
  EXPECT_EQ(WTERMSIG(exec), SIGSYS);
}

TEST(Sandbox, NoFileCanBeOpenedAndTheProcessLives) {
  const int ws = sandboxed([] {
    const int fd = ::open("/etc/hostname", O_RDONLY);
    if (fd >= 0 || errno != EACCES) return 1;
    if (::openat(AT_FDCWD, "/tmp", O_RDWR | O_TMPFILE, 0600) >= 0 || errno != EACCES) return 2;
    if (::access("/etc/hostname", R_OK) == 0) return 3;
    return 0;
  });
  ASSERT_TRUE(WIFEXITED(ws)) << "killed by " << WTERMSIG(ws);
  EXPECT_EQ(WEXITSTATUS(ws), 0);
}

TEST(Sandbox, WhatServingNeedsStillWorks) {
  // Device memory is a memfd made before the sandbox; freeing it punches a
  // hole (found by the real guest's queue test: disable after FATAL).
  const int memfd = ::memfd_create("sandbox-test", MFD_CLOEXEC);
  ASSERT_GE(memfd, 0);
  ASSERT_EQ(::ftruncate(memfd, 1 << 20), 0);
  const int ws = sandboxed([memfd] {
    if (::fallocate(memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096) != 0) return 4;
    int value = 0;
    std::thread t([&] { value = 42; });  // the command queue's thread
    t.join();
    struct stat st {};
    if (::fstat(1, &st) != 0) return 1;  // stdio's fstat on an fd
    std::ostringstream text;
    text << "sandboxed child logs " << value << "\n";
    const std::string s = text.str();
    return ::write(2, s.data(), s.size()) == static_cast<ssize_t>(s.size()) && value == 42 ? 0 : 3;
  });
  ::close(memfd);
  ASSERT_TRUE(WIFEXITED(ws)) << "killed by " << WTERMSIG(ws);
  EXPECT_EQ(WEXITSTATUS(ws), 0);
}

TEST(Sandbox, RootCannotBeRegained) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to change user";
  const int ws = sandboxed([] { return ::setuid(0) == 0 ? 1 : 0; });
  // setuid is not on the list: the attempt itself is fatal.
  ASSERT_TRUE(WIFSIGNALED(ws));
  EXPECT_EQ(WTERMSIG(ws), SIGSYS);
}

TEST(WorkerUser, NumbersNamesAndRoot) {
  auto nobody = resolve_worker_user("65534");
  ASSERT_TRUE(nobody);
  EXPECT_EQ(nobody->uid, 65534u);
  EXPECT_FALSE(resolve_worker_user("0"));
  EXPECT_FALSE(resolve_worker_user("root"));
  auto missing = resolve_worker_user("no-such-user-vgpu");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("no such user"), std::string::npos);
  auto fallback = resolve_worker_user("");
  ASSERT_TRUE(fallback);
  EXPECT_NE(fallback->uid, 0u);
}

}  // namespace
}  // namespace vgpu::app
