// The daemon's command line (docs/spec.md §5), parsed with CLI11. vgpu-sim
// takes the same options plus its own (ExtraOption), so the demo runs the
// daemon exactly as configured on a real host.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "vgpu/pci/sbdf.h"

namespace vgpu::app {

inline constexpr const char* kProgramName = "vgpu-ioreqd";

struct Options {
  std::string program = kProgramName;  // prefixes every error line
  uint16_t domid = 0;
  pci::Sbdf sbdf;
  uint64_t bar0_size = 4096;
  uint32_t class_code = 0x120000;     // processing accelerator (docs/spec.md §2)
  uint64_t mem_limit = 256ull << 20;  // device memory per guest (docs/spec.md §8)
  std::string log_level = "info";     // an spdlog level name
  std::string log_file;               // empty = stderr
  std::string pid_file;               // empty = none
  std::string run_dir = "/run/vgpu-ioreqd";
  // Whom the serving worker runs as: a user name or a numeric uid; empty
  // for the dedicated "vgpu-ioreqd" user, or nobody when it does not exist.
  std::string user;
};

// A further unsigned option a front end adds, e.g. vgpu-sim's --vcpus.
struct ExtraOption {
  std::string name;  // "--vcpus"
  std::string help;
  unsigned* value;  // holds the default on entry
  unsigned min;
  unsigned max;
};

// What main() does with a command line. When `options` is set, run with
// them. Otherwise print `output` and exit with `exit_code`: 0 for --help and
// --version (print to stdout), 2 for bad input (`output` is then one line,
// starting "<program>: ", for stderr).
struct ParseOutcome {
  std::optional<Options> options;
  int exit_code = 0;
  std::string output;
};

// Prints a ParseOutcome without options (help, version or the error line)
// where it belongs, and returns its exit code: main()'s early exit.
int print_outcome(const ParseOutcome& outcome);

ParseOutcome parse_options(int argc, const char* const* argv,
                           const std::string& program = kProgramName,
                           const std::string& description = {},
                           std::span<const ExtraOption> extra = {});

}  // namespace vgpu::app
