// The pid file an init script or launcher waits for; removed on exit.
#pragma once

#include <string>

#include "vgpu/common/result.h"

namespace vgpu::app {

class PidFile {
 public:
  // Before anything is set up: refuses (ELOOP, EPERM) a `path` that is a
  // symlink or whose directory others may write to (run_dir.h), so that the
  // daemon can exit as for bad input with nothing left behind.
  static Status check(const std::string& path);
  // Writes our pid to `path` (replacing any stale file) through a temporary
  // file created O_EXCL|O_NOFOLLOW and renamed over it.
  static Result<PidFile> create(const std::string& path);
  PidFile(PidFile&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  PidFile& operator=(PidFile&&) = delete;
  PidFile(const PidFile&) = delete;
  ~PidFile();

 private:
  explicit PidFile(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace vgpu::app
