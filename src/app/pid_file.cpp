#include "vgpu/app/pid_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>

namespace vgpu::app {

Result<PidFile> PidFile::create(const std::string& path) {
  // Write a temporary file and rename it, so that a reader never sees an
  // empty or half-written pid.
  const std::string tmp = path + ".tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno_error("cannot create pid file " + tmp);
  const std::string text = std::to_string(getpid()) + "\n";
  const bool written = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const int saved = errno;
  close(fd);
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
