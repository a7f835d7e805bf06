// Captures what the daemon logs through spdlog's default logger while this
// object lives, so a test can count lines; restores the previous logger.
//
// Thread-safe: the daemon's thread logs while the test thread counts.
#pragma once

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace vgpu::testing {

class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<LineSink>()), previous_(spdlog::default_logger()) {
    auto logger = std::make_shared<spdlog::logger>("capture", sink_);
    logger->set_level(spdlog::level::trace);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  // Everything captured so far, a line each.
  std::string text() const {
    std::string all;
    for (const std::string& line : sink_->lines()) all += line + "\n";
    return all;
  }

  // Lines containing `needle`.
  unsigned count(const std::string& needle) const {
    unsigned n = 0;
    for (const std::string& line : sink_->lines()) n += line.find(needle) != std::string::npos;
    return n;
  }

 private:
  class LineSink final : public spdlog::sinks::base_sink<std::mutex> {
   public:
    std::vector<std::string> lines() {
      std::lock_guard lock(mutex_);
      return lines_;
    }

   protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
      lines_.emplace_back(msg.payload.data(), msg.payload.size());
    }
    void flush_() override {}

   private:
    std::vector<std::string> lines_;
  };

  std::shared_ptr<LineSink> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

}  // namespace vgpu::testing
