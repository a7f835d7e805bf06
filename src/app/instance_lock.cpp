#include "vgpu/app/instance_lock.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <optional>

#include "vgpu/app/run_dir.h"

namespace vgpu::app {

namespace {

// Another daemon may remove the file between our open and our flock; then we
// hold a lock on an orphan and must retry on the new file. Twice suffices in
// practice; a few more attempts cost nothing.
constexpr int kMaxAttempts = 8;

// The pid the holder wrote, or "unknown" while it has not written it yet.
std::string holder_pid(int fd) {
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  unsigned long pid = 0;
  if (n <= 0) return "unknown";
  const auto [end, ec] = std::from_chars(buf, buf + n, pid);
  if (ec != std::errc{} || end == buf) return "unknown";
  return std::to_string(pid);
}

// Whether `fd` is still the file `name` in `dir` (and not one a departing
// holder unlinked after we opened it).
bool still_linked(int fd, int dir, const std::string& name) {
  struct stat by_fd {};
  struct stat by_name {};
  if (::fstat(fd, &by_fd) < 0 || ::fstatat(dir, name.c_str(), &by_name, AT_SYMLINK_NOFOLLOW) < 0)
    return false;
  return by_fd.st_dev == by_name.st_dev && by_fd.st_ino == by_name.st_ino;
}

Status write_pid(int fd, const std::string& path) {
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) < 0 ||
      ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    return errno_error("cannot write our pid into lock file " + path);
  }
  return ok_status();
}

// One attempt: the locked fd, nullopt if the file was replaced meanwhile.
// Opened relative to the checked directory, never through a symlink. Not
// O_EXCL: a stale file from a daemon that died is ours to lock again, and a
// live holder's file is how we name it; nothing is written before the file
// is proven a plain file of ours with a single link.
Result<std::optional<int>> try_lock(int dir, const std::string& path, uint16_t domid,
                                    const pci::Sbdf& sbdf) {
  const std::string name = InstanceLock::file_name(domid, sbdf);
  const int fd = ::openat(dir, name.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (errno == ELOOP) return Error{ELOOP, "lock file " + path + " is a symbolic link; refusing"};
    return Error{errno, "cannot open lock file " + path};
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) < 0) {
    const int err = errno;
    const std::string pid = holder_pid(fd);
    ::close(fd);
    if (err != EWOULDBLOCK) return Error{err, "cannot lock " + path};
    return Error{
        EBUSY,
        fmt::format("SBDF {} of domain {} is already claimed by another vgpu-ioreqd (pid {})",
                    sbdf.to_string(), domid, pid)};
  }
  if (!still_linked(fd, dir, name)) {
    ::close(fd);
    return std::optional<int>{};
  }
  if (auto st = check_own_file(fd, path); !st) {
    ::close(fd);
    return st.error();
  }
  if (auto st = write_pid(fd, path); !st) {
    ::close(fd);
    return st.error();
  }
  return std::optional<int>{fd};
}

}  // namespace

std::string InstanceLock::instance_name(uint16_t domid, const pci::Sbdf& sbdf) {
  // No ':' in the name: it is awkward in shells and in systemd unit names.
  return fmt::format("dom{}-{:04x}-{:02x}-{:02x}.{:x}", domid, sbdf.segment, sbdf.bus, sbdf.device,
                     sbdf.function);
}

Result<InstanceLock> InstanceLock::acquire(const std::string& run_dir, uint16_t domid,
                                           const pci::Sbdf& sbdf) {
  auto dir = open_run_dir(run_dir);
  if (!dir) return dir.error();
  const std::string path = run_dir + "/" + file_name(domid, sbdf);
  Result<InstanceLock> result =
      Error{EAGAIN, "lock file " + path + " keeps being replaced; giving up"};
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    auto fd = try_lock(*dir, path, domid, sbdf);
    if (!fd) {
      result = fd.error();
      break;
    }
    if (*fd) {
      result = InstanceLock(path, **fd);
      break;
    }
  }
  ::close(*dir);
  return result;
}

InstanceLock::InstanceLock(InstanceLock&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)) {}

InstanceLock& InstanceLock::operator=(InstanceLock&& other) noexcept {
  if (this != &other) {
    release();
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

InstanceLock::~InstanceLock() {
  release();
}

void InstanceLock::release() noexcept {
  if (fd_ < 0) return;
  // Unlink while still holding the lock: a newcomer that opened the old file
  // finds it unlinked after its flock and retries on a fresh one.
  ::unlink(path_.c_str());
  ::close(fd_);
  fd_ = -1;
}

}  // namespace vgpu::app
