// The daemon's command line (spec section 5), parsed with CLI11.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "vgpu/pci/sbdf.h"

namespace vgpu::app {

inline constexpr const char* kProgramName = "vgpu-ioreqd";

struct Options {
  uint16_t domid = 0;
  pci::Sbdf sbdf;
  uint64_t bar0_size = 4096;
  uint32_t class_code = 0x120000;  // Processing accelerator (spec section 2)
  std::string log_level = "info";  // an spdlog level name
  std::string log_file;            // empty = stderr
  std::string pid_file;            // empty = none
  std::string run_dir = "/run/vgpu-ioreqd";
  bool simulate = false;
  unsigned sim_vcpus = 1;
};

// What main() does with a command line. When `options` is set, run with
// them. Otherwise print `output` and exit with `exit_code`: 0 for --help and
// --version (print to stdout), 2 for bad input (`output` is then one line,
// starting "vgpu-ioreqd: ", for stderr).
struct ParseOutcome {
  std::optional<Options> options;
  int exit_code = 0;
  std::string output;
};

ParseOutcome parse_options(int argc, const char* const* argv);

}  // namespace vgpu::app
