// The executables as a user runs them: vgpu-ioreqd's exit codes and the
// one-line errors of docs/spec.md §5, and vgpu-sim's demo output.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <string>
#include <vector>

namespace {

struct ProcessResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `program` with `args`, capturing stdout and stderr separately.
ProcessResult run(const char* program, const std::string& args) {
  // ctest -j runs tests in parallel processes: one stderr file per call.
  std::string err_file = ::testing::TempDir() + "vgpu-binary-test-XXXXXX";
  const int fd = mkstemp(err_file.data());
  if (fd < 0) return {};
  close(fd);
  const std::string cmd = std::string(program) + " " + args + " 2>" + err_file;
  ProcessResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (FILE* e = fopen(err_file.c_str(), "r")) {
    while (size_t n = fread(buf.data(), 1, buf.size(), e)) r.err.append(buf.data(), n);
    fclose(e);
  }
  unlink(err_file.c_str());
  return r;
}

ProcessResult run_daemon(const std::string& args) {
  return run(VGPU_DAEMON_PATH, args);
}

size_t lines(const std::string& s) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

struct BadInput {
  const char* args;
  const char* names;  // what the one line must mention
};

class BinaryBadInput : public ::testing::TestWithParam<BadInput> {};

TEST_P(BinaryBadInput, ExitsTwoWithOneLineNamingTheProblem) {
  const ProcessResult r = run_daemon(GetParam().args);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_EQ(r.err.rfind("vgpu-ioreqd: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(GetParam().names), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

INSTANTIATE_TEST_SUITE_P(
    CommandLine, BinaryBadInput,
    ::testing::Values(BadInput{"", "--domid"}, BadInput{"--domid abc --sbdf 00:05.0", "abc"},
                      BadInput{"--domid 0 --sbdf 00:05.0", "Dom0"},
                      BadInput{"--domid 32752 --sbdf 00:05.0", "reserved"},
                      BadInput{"--domid -3 --sbdf 00:05.0", "-3"},
                      BadInput{"--domid 7 --sbdf 00:20.0", "device 0x20 > 31"},
                      BadInput{"--domid 7 --sbdf 00:05.8", "function 8 > 7"},
                      BadInput{"--domid 7 --sbdf 100:05.0", "bus 0x100 > 255"},
                      BadInput{"--domid 7 --sbdf 00:05.0 --bar0-size 6000", "power of two"},
                      BadInput{"--domid 7 --sbdf 00:05.0 --bar0-size 2K", "2048"},
                      BadInput{"--domid 7 --sbdf 00:05.0 --frobnicate", "frobnicate"},
                      BadInput{"--domid 7 --sbdf 00:05.0 --simulate", "--simulate"},
                      BadInput{"--domid 7 --sbdf 00:05.0 --log-file /nonexistent/dir/x.log",
                               "/nonexistent/dir/x.log"}));

TEST(Binary, WithoutXenItSaysSoAndExitsTwo) {
  struct stat st;
  if (stat("/dev/xen", &st) == 0) GTEST_SKIP() << "this machine runs Xen";
  const ProcessResult r =
      run_daemon("--domid 7 --sbdf 00:05.0 --run-dir " + ::testing::TempDir() + "vgpu-run-noxen");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err,
            "vgpu-ioreqd: /dev/xen is absent: run this in Dom0 of a Xen host: No such file or "
            "directory\n");
}

TEST(Binary, SimRejectsBadInputAsTheDaemonDoesUnderItsOwnName) {
  const ProcessResult r = run(VGPU_SIM_PATH, "--domid 1 --sbdf 00:05.0 --vcpus 200");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_EQ(r.err.rfind("vgpu-sim: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("--vcpus"), std::string::npos) << r.err;
}

TEST(Binary, HelpAndVersionExitZeroOnStdout) {
  const ProcessResult help = run_daemon("--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--domid"), std::string::npos);
  EXPECT_NE(help.out.find("--sbdf"), std::string::npos);
  const ProcessResult version = run_daemon("--version");
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.out.rfind("vgpu-ioreqd ", 0), 0u) << version.out;
}

TEST(Binary, SimDemoShowsTheDeviceAsLspciWouldAndPings) {
  const ProcessResult r = run(VGPU_SIM_PATH, "--domid 1 --sbdf 00:05.0 --vcpus 2 --run-dir " +
                                                 ::testing::TempDir() + "vgpu-run-demo");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* expected :
       {"00:05.0 Processing accelerators [1200]: Red Hat, Inc. Device [1af4:1111] (rev 01)",
        "Memory at f0000000 (32-bit, non-prefetchable) [size=4K]",
        "Capabilities: [40] MSI: Enable+ Count=1/1 Maskable+ 64bit+",
        "PING: STATUS=2 (DONE) id-word=0x55504756 REQUEST_ID echoed=0x5eed1234 MSIs=1 -> ok",
        "  state = \"4\"", "  bar0 = \"0xf0000000\"", "  sbdf = \"0000:00:05.0\""})
    EXPECT_NE(r.out.find(expected), std::string::npos) << "missing: " << expected << "\n" << r.out;
}

}  // namespace
