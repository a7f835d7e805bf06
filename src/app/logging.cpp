#include "vgpu/app/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

namespace vgpu::app {

namespace {

// spdlog creates missing parent directories; a mistyped --log-file should be
// reported instead, not leave new directories behind.
Status check_log_directory(const std::string& file) {
  const size_t slash = file.rfind('/');
  if (slash == std::string::npos || slash == 0) return {};
  const std::string dir = file.substr(0, slash);
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0)
    return errno_error("cannot open log file " + file + ": directory " + dir);
  if (!S_ISDIR(st.st_mode))
    return Error{ENOTDIR, "cannot open log file " + file + ": " + dir + " is not a directory"};
  return {};
}

}  // namespace

Status setup_logging(uint16_t domid, const std::string& level, const std::string& file) {
  if (!file.empty()) {
    if (Status s = check_log_directory(file); !s) return s;
  }
  std::shared_ptr<spdlog::logger> logger;
  const std::string name = "dom" + std::to_string(domid);
  try {
    if (file.empty())
      logger =
          std::make_shared<spdlog::logger>(name, std::make_shared<spdlog::sinks::stderr_sink_mt>());
    else
      logger = std::make_shared<spdlog::logger>(
          name, std::make_shared<spdlog::sinks::basic_file_sink_mt>(file, /*truncate=*/false));
  } catch (const spdlog::spdlog_ex& e) {
    return Error{errno, "cannot open log file " + file + ": " + e.what()};
  }
  // "2026-11-21 10:00:00.123 vgpu-ioreqd[dom7] info: ..." — the pid is in the
  // pid file and in XenStore; the domid is what an administrator greps for.
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e vgpu-ioreqd[" + name + "] %l: %v");
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
  return {};
}

}  // namespace vgpu::app
