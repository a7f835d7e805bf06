// The fields of /proc/<pid>/status as name -> value (leading blanks
// trimmed), for tests that check what the kernel says about a process:
// its uids, capabilities, NoNewPrivs and seccomp mode.
#pragma once

#include <sys/types.h>

#include <fstream>
#include <map>
#include <string>

namespace vgpu::testing {

inline std::map<std::string, std::string> proc_status(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::map<std::string, std::string> fields;
  for (std::string line; std::getline(in, line);) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    fields[line.substr(0, colon)] = value;
  }
  return fields;
}

}  // namespace vgpu::testing
