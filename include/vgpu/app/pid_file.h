// The pid file an init script or launcher waits for; removed on exit.
#pragma once

#include <string>

#include "vgpu/common/result.h"

namespace vgpu::app {

class PidFile {
 public:
  // Writes our pid to `path` (replacing any stale file).
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
