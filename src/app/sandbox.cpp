#include "vgpu/app/sandbox.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/falloc.h>
#include <pwd.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <memory>
#include <optional>
#include <vector>

namespace vgpu::app {

namespace {

constexpr const char* kDedicatedUser = "vgpu-ioreqd";
constexpr uid_t kNobody = 65534;

// What the worker does after setup: poll its fds, answer ioreqs (memory
// accesses and ioctls on the already-open privcmd and evtchn handles), map
// guest frames, run the command queue's thread, log to an open fd, talk to
// the supervisor. Nothing that creates a socket, executes, changes ids or
// touches another process.
constexpr const char* kAllowed[] = {
    // fds it already has
    "read", "write", "readv", "writev", "pread64", "pwrite64", "close", "lseek", "fcntl", "ioctl",
    "poll", "ppoll", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "sendto",
    "recvfrom", "sendmsg", "recvmsg", "fstat", "timerfd_settime", "timerfd_gettime", "eventfd2",
    // memory (foreign mappings, device memory, the allocator)
    "mmap", "munmap", "mremap", "mprotect", "madvise", "brk", "mlock", "munlock",
    // threads and time
    "futex", "clone", "clone3", "set_robust_list", "rseq", "exit", "exit_group", "gettid", "getpid",
    "sched_yield", "sched_getaffinity", "sched_setaffinity", "clock_gettime", "clock_nanosleep",
    "nanosleep", "gettimeofday", "getrandom", "membarrier", "restart_syscall",
    // signals: the signalfd's mask, abort()
    "rt_sigprocmask", "rt_sigaction", "rt_sigreturn", "sigaltstack",
    // harmless queries
    "getuid", "geteuid", "getgid", "getegid"};

// Sanitizer builds only (CI runs the suite under ASan and TSan): their
// runtimes probe memory through a pipe and query limits on their own. The
// shipped daemon is never built with a sanitizer, so never allows these.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr std::array<const char*, 7> kSanitizerRuntime{
    "pipe2", "pipe", "getrlimit", "prlimit64", "sched_getparam", "sched_getscheduler", "mincore"};
#else
constexpr std::array<const char*, 0> kSanitizerRuntime{};
#endif

struct CtxReleaser {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};

std::optional<unsigned long> number(const std::string& s) {
  unsigned long v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

Result<WorkerUser> by_name(const std::string& name) {
  errno = 0;
  const passwd* pw = ::getpwnam(name.c_str());
  if (!pw) return Error{errno ? errno : ENOENT, "no such user: " + name};
  return WorkerUser{pw->pw_uid, pw->pw_gid, name};
}

Status seccomp_error(int rc, const char* what) {
  return Error{-rc, std::string("seccomp: ") + what};
}

}  // namespace

Result<WorkerUser> resolve_worker_user(const std::string& spec) {
  Result<WorkerUser> user = Error{ENOENT, ""};
  if (spec.empty()) {
    user = by_name(kDedicatedUser);
    if (!user) user = WorkerUser{kNobody, kNobody, "nobody"};
  } else if (const auto uid = number(spec)) {
    if (*uid > 0xfffffffeUL) return Error{EINVAL, "uid " + spec + " is out of range"};
    const passwd* pw = ::getpwuid(static_cast<uid_t>(*uid));
    user = WorkerUser{static_cast<uid_t>(*uid), pw ? pw->pw_gid : static_cast<gid_t>(*uid), spec};
  } else {
    user = by_name(spec);
  }
  if (user && user->uid == 0)
    return Error{EINVAL, "the worker must not run as root (--user " + spec + ")"};
  return user;
}

Status drop_privileges(const WorkerUser& user) {
  // The bounding set first (what an exec could ever gain): emptying it needs
  // CAP_SETPCAP, which leaving uid 0 takes away. Without CAP_SETPCAP (not
  // root, or a unit that withholds it) an EPERM is not fatal: no_new_privs
  // and the seccomp filter forbid exec anyway.
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) {
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EPERM && errno != EINVAL)
      return errno_error("PR_CAPBSET_DROP");
  }
  if (::geteuid() == 0) {
    if (::setgroups(0, nullptr) < 0) return errno_error("setgroups");
    if (::setresgid(user.gid, user.gid, user.gid) < 0) return errno_error("setresgid");
    if (::setresuid(user.uid, user.uid, user.uid) < 0) return errno_error("setresuid");
    // Leaving uid 0 cleared the permitted and effective sets; a way back to
    // root must not exist either.
    if (::setresuid(0, 0, 0) == 0) return Error{EPERM, "could regain root after setresuid"};
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return errno_error("PR_CAP_AMBIENT_CLEAR_ALL");
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capset, &header, data) < 0) return errno_error("capset");
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return errno_error("PR_SET_NO_NEW_PRIVS");
  return {};
}

const char* const* worker_syscalls(size_t* count) {
  *count = std::size(kAllowed);
  return kAllowed;
}

Status install_worker_seccomp() {
  std::unique_ptr<void, CtxReleaser> ctx(seccomp_init(SCMP_ACT_KILL_PROCESS));
  if (!ctx) return Error{ENOMEM, "seccomp_init"};
  // Every thread, including any a library started during setup.
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_TSYNC, 1); rc < 0)
    return seccomp_error(rc, "TSYNC");
  std::vector<const char*> allowed(std::begin(kAllowed), std::end(kAllowed));
  allowed.insert(allowed.end(), kSanitizerRuntime.begin(), kSanitizerRuntime.end());
  for (const char* name : allowed) {
    const int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;  // not on this architecture (e.g. clone3 on old headers)
    if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, nr, 0); rc < 0)
      return seccomp_error(rc, name);
  }
  // Thread names (pthread_setname_np on ourselves); no other prctl.
  if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
                                SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME));
      rc < 0)
    return seccomp_error(rc, "prctl");
  // abort() signals itself; no other process may be signalled.
  if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
                                SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(::getpid())));
      rc < 0)
    return seccomp_error(rc, "tgkill");
  // Freeing device memory punches holes in its memfd (compute::CpuBackend);
  // fallocate in no other mode.
  if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(fallocate), 1,
                                SCMP_A1(SCMP_CMP_EQ, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE));
      rc < 0)
    return seccomp_error(rc, "fallocate");
  // glibc's fstat() is newfstatat(fd, "", AT_EMPTY_PATH): allowed on an fd,
  // refused on a path. statx fails as if absent, so glibc falls back.
  if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(newfstatat), 1,
                                SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH));
      rc < 0)
    return seccomp_error(rc, "newfstatat");
  for (const int nr : {SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(openat2), SCMP_SYS(creat),
                       SCMP_SYS(newfstatat), SCMP_SYS(statx), SCMP_SYS(access), SCMP_SYS(faccessat),
                       SCMP_SYS(faccessat2), SCMP_SYS(readlink)}) {
    if (nr < 0) continue;
    const int errno_value = nr == SCMP_SYS(statx) ? ENOSYS : EACCES;
    // newfstatat already has an allow rule for AT_EMPTY_PATH; this one
    // catches the rest.
    const int rc = nr == SCMP_SYS(newfstatat)
                       ? seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(errno_value), nr, 1,
                                          SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, 0))
                       : seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(errno_value), nr, 0);
    if (rc < 0) return seccomp_error(rc, "file access rule");
  }
  if (int rc = seccomp_load(ctx.get()); rc < 0) return seccomp_error(rc, "load");
  return {};
}

}  // namespace vgpu::app
