#include "vgpu/app/run_dir.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

namespace vgpu::app {

namespace {

Status create_if_absent(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path dir(path);
  if (dir.has_parent_path()) {
    std::filesystem::create_directories(dir.parent_path(), ec);
    if (ec) return Error{ec.value(), "cannot create run directory " + path};
  }
  // The umask can only take bits away from 0755, never add group write.
  if (::mkdir(path.c_str(), 0755) < 0 && errno != EEXIST)
    return errno_error("cannot create run directory " + path);
  return ok_status();
}

}  // namespace

Result<int> open_run_dir(const std::string& path) {
  if (auto st = create_if_absent(path); !st) return st.error();
  return open_trusted_dir(path, "run directory");
}

Result<int> open_trusted_dir(const std::string& path, const std::string& what) {
  // O_NOFOLLOW: a symlink in the last component fails with ELOOP instead of
  // taking us somewhere else; the checks below then hold for this very fd.
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    // Linux reports a symlink as ENOTDIR when O_DIRECTORY is also given.
    struct stat link {};
    if ((err == ELOOP || err == ENOTDIR) && ::lstat(path.c_str(), &link) == 0 &&
        S_ISLNK(link.st_mode))
      return Error{ELOOP, what + " " + path + " is a symbolic link; refusing"};
    return Error{err, "cannot open " + what + " " + path};
  }
  struct stat st {};
  if (::fstat(fd, &st) < 0) {
    const Error e = errno_error("cannot stat " + what + " " + path);
    ::close(fd);
    return e;
  }
  std::string why;
  if (st.st_uid != 0 && st.st_uid != ::geteuid())
    why = fmt::format("is owned by uid {}, not by root or by us (uid {})", st.st_uid, ::geteuid());
  else if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
    why = fmt::format("is writable by others (mode {:04o}); make it 0755", st.st_mode & 07777);
  if (!why.empty()) {
    ::close(fd);
    return Error{EPERM, what + " " + path + " " + why + "; refusing"};
  }
  return fd;
}

Result<int> open_own_file(int dir_fd, const std::string& name) {
  const int fd = ::openat(dir_fd, name.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return errno_error("cannot open " + name);
  if (Status s = check_own_file(fd, name); !s) {
    ::close(fd);
    return s.error();
  }
  return fd;
}

Status check_own_file(int fd, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) < 0) return errno_error("cannot stat " + path);
  if (!S_ISREG(st.st_mode)) return Error{EPERM, path + " is not a regular file; refusing"};
  if (st.st_nlink != 1)
    return Error{EPERM, fmt::format("{} has {} links (a hard link to another file?); refusing",
                                    path, st.st_nlink)};
  if (st.st_uid != ::geteuid())
    return Error{EPERM, fmt::format("{} is owned by uid {}, not by us; refusing", path, st.st_uid)};
  return ok_status();
}

}  // namespace vgpu::app
