#include "vgpu/app/pid_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>

#include "vgpu/app/run_dir.h"

namespace vgpu::app {

namespace {

// O_EXCL (which also refuses a symlink under the name) with O_NOFOLLOW: we
// only ever write a file we have just created ourselves. A leftover from a
// daemon that died between create and rename, or anything planted under the
// temporary name, is unlinked (the name itself, never what it points to)
// and the create tried once more.
Result<int> create_exclusive(const std::string& tmp) {
  constexpr int kFlags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  int fd = ::open(tmp.c_str(), kFlags, 0644);
  if (fd < 0 && errno == EEXIST && ::unlink(tmp.c_str()) == 0)
    fd = ::open(tmp.c_str(), kFlags, 0644);
  if (fd < 0) return errno_error("cannot create pid file " + tmp);
  return fd;
}

}  // namespace

Status PidFile::check(const std::string& path) {
  const std::filesystem::path p(path);
  const std::string dir = p.has_parent_path() ? p.parent_path().string() : ".";
  auto fd = open_trusted_dir(dir.empty() ? "/" : dir, "pid file directory");
  if (!fd) return fd.error();
  ::close(*fd);
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
    return Error{ELOOP, "pid file " + path + " is a symbolic link; refusing"};
  return ok_status();
}

Result<PidFile> PidFile::create(const std::string& path) {
  // A symlink under the pid file's name is refused outright: rename() would
  // only replace the link, but someone put it there to redirect our writes.
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
    return Error{ELOOP, "pid file " + path + " is a symbolic link; refusing"};
  // Write a temporary file and rename it, so that a reader never sees an
  // empty or half-written pid.
  const std::string tmp = path + ".tmp";
  auto fd = create_exclusive(tmp);
  if (!fd) return fd.error();
  const std::string text = std::to_string(getpid()) + "\n";
  const bool written = write(*fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const int saved = errno;
  close(*fd);
  if (!written || rename(tmp.c_str(), path.c_str()) != 0) {
    const Error e{written ? errno : saved, "cannot write pid file " + path};
    unlink(tmp.c_str());
    return e;
  }
  return PidFile(path);
}

PidFile::~PidFile() {
  if (!path_.empty()) unlink(path_.c_str());
}

}  // namespace vgpu::app
