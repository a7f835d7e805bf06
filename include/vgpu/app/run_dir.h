// Where the daemon creates files as root (its run directory, the pid file's
// directory), and the checks that keep those files from being turned against
// it: a directory someone else may write to would let them plant a symlink
// or a hard link under the name we are about to open, and have us truncate
// whatever it points to.
#pragma once

#include <string>

#include "vgpu/common/result.h"

namespace vgpu::app {

// Creates `path` if absent (parents as needed; the last level mode 0755),
// then opens it without following a symlink and checks that it is a
// directory owned by root or by our effective uid and writable by nobody
// else (no group or other write bit). Returns the directory's fd
// (O_CLOEXEC), which the caller closes; EPERM, ELOOP or ENOTDIR with a
// message naming the path and what is wrong otherwise.
Result<int> open_run_dir(const std::string& path);

// The same checks on an existing directory, without creating it; `what`
// names it in errors ("pid file directory").
Result<int> open_trusted_dir(const std::string& path, const std::string& what);

// Checks a file we just opened inside a trusted directory before we write
// it: a regular file, one link (no hard link to something else), ours.
Status check_own_file(int fd, const std::string& path);

// Opens or creates (mode 0600) `name` in the trusted directory `dir_fd`,
// read-write, without following a symlink, and checks it as above.
// Returns the fd (O_CLOEXEC), which the caller closes.
Result<int> open_own_file(int dir_fd, const std::string& name);

}  // namespace vgpu::app
