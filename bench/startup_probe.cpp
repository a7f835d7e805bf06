// Measures exec -> "serving" (the daemon is Connected: server enabled, ports
// bound, SBDF claimed; a launcher may unpause the guest) and the daemon's
// resident memory while it serves. Usage:
//   vgpu_startup_probe [--runs N] [--settle-ms M] -- <daemon> <args...>
// Each run forks and execs the daemon with stdout+stderr on a pipe, times
// until a line containing "serving", then samples VmRSS and VmHWM from
// /proc/<pid>/status every millisecond for M ms or until the daemon exits
// (vgpu-sim exits once its scripted guest is done), keeping the maxima,
// then sends SIGTERM and reaps it.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Sample {
  double ms = -1;  // exec -> ready; negative if it never got there
  long rss_kib = -1;
  long hwm_kib = -1;
  long anon_kib = -1;  // RssAnon: heap, stacks, the simulator's guest RAM
  long file_kib = -1;  // RssFile: code and data of the binary and its libraries
  long pss_kib = -1;   // shared library pages divided among the processes using them
  long uss_kib = -1;   // private pages: what one more daemon instance really costs
};

long status_kib(pid_t pid, const char* field, const char* file = "status") {
  std::ifstream in("/proc/" + std::to_string(pid) + "/" + file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0)
      return std::strtol(line.c_str() + std::strlen(field) + 1, nullptr, 10);
  }
  return -1;
}

pid_t spawn(char** argv, int* out_fd) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    close(fds[0]);
    close(fds[1]);
    execv(argv[0], argv);
    _exit(127);
  }
  close(fds[1]);
  *out_fd = fds[0];
  return pid;
}

// Reads until `marker` appears or the deadline passes; true if it appeared.
bool wait_for(int fd, const char* marker, Clock::time_point deadline, std::string* seen) {
  char buf[4096];
  while (seen->find(marker) == std::string::npos) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return false;
    seen->append(buf, static_cast<size_t>(n));
  }
  return true;
}

// The daemon's memory while it serves: maxima over the sampling window.
void sample_memory(pid_t pid, int settle_ms, Sample* s) {
  const auto end = Clock::now() + std::chrono::milliseconds(settle_ms);
  do {
    siginfo_t info{};
    // Exited (left waitable for the reaper below): keep what we saw.
    if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
        info.si_pid != 0)
      break;
    s->rss_kib = std::max(s->rss_kib, status_kib(pid, "VmRSS:"));
    s->hwm_kib = std::max(s->hwm_kib, status_kib(pid, "VmHWM:"));
    s->anon_kib = std::max(s->anon_kib, status_kib(pid, "RssAnon:"));
    s->file_kib = std::max(s->file_kib, status_kib(pid, "RssFile:"));
    s->pss_kib = std::max(s->pss_kib, status_kib(pid, "Pss:", "smaps_rollup"));
    const long clean = status_kib(pid, "Private_Clean:", "smaps_rollup");
    const long dirty = status_kib(pid, "Private_Dirty:", "smaps_rollup");
    if (clean >= 0 && dirty >= 0) s->uss_kib = std::max(s->uss_kib, clean + dirty);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  } while (Clock::now() < end);
}

Sample run_once(char** argv, int settle_ms) {
  Sample s;
  int fd = -1;
  const auto t0 = Clock::now();
  const pid_t pid = spawn(argv, &fd);
  if (pid < 0) return s;
  std::string seen;
  if (wait_for(fd, "serving", t0 + std::chrono::seconds(10), &seen)) {
    s.ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    sample_memory(pid, settle_ms, &s);
  } else {
    std::fprintf(stderr, "daemon never said \"serving\"; its output:\n%s\n", seen.c_str());
  }
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  close(fd);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 20;
  int settle_ms = 200;
  int i = 1;
  for (; i < argc && std::strcmp(argv[i], "--") != 0; ++i) {
    if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
      runs = std::atoi(argv[++i]);
    else if (std::strcmp(argv[i], "--settle-ms") == 0 && i + 1 < argc)
      settle_ms = std::atoi(argv[++i]);
  }
  if (i + 1 >= argc) {
    std::fprintf(stderr, "usage: %s [--runs N] [--settle-ms M] -- <daemon> <args...>\n", argv[0]);
    return 2;
  }
  std::vector<Sample> samples;
  for (int r = 0; r < runs; ++r) {
    samples.push_back(run_once(argv + i + 1, settle_ms));
    if (samples.back().ms < 0) return 1;
  }
  std::vector<double> ms;
  Sample max;
  for (const Sample& s : samples) {
    ms.push_back(s.ms);
    max.rss_kib = std::max(max.rss_kib, s.rss_kib);
    max.hwm_kib = std::max(max.hwm_kib, s.hwm_kib);
    max.anon_kib = std::max(max.anon_kib, s.anon_kib);
    max.file_kib = std::max(max.file_kib, s.file_kib);
    max.pss_kib = std::max(max.pss_kib, s.pss_kib);
    max.uss_kib = std::max(max.uss_kib, s.uss_kib);
  }
  std::sort(ms.begin(), ms.end());
  std::printf("STARTUP runs=%d exec_to_serving_ms min=%.2f median=%.2f max=%.2f\n", runs,
              ms.front(), ms[ms.size() / 2], ms.back());
  std::printf(
      "RSS max_vmrss_kib=%ld (%.2f MiB) max_vmhwm_kib=%ld rss_anon_kib=%ld rss_file_kib=%ld\n",
      max.rss_kib, static_cast<double>(max.rss_kib) / 1024.0, max.hwm_kib, max.anon_kib,
      max.file_kib);
  std::printf("MEM pss_kib=%ld uss_kib=%ld\n", max.pss_kib, max.uss_kib);
  return 0;
}
