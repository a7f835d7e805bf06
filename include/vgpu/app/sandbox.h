// Deprivileging the worker (docs/hardening.md "Privilege separation"): a
// system user instead of root, no capabilities (not even in the bounding
// set), no_new_privs, and a seccomp allow-list that kills the process on any
// other system call. Each step is irreversible for the calling process.
#pragma once

#include <sys/types.h>

#include <string>

#include "vgpu/common/result.h"

namespace vgpu::app {

// The user the worker runs as.
struct WorkerUser {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string name;  // for the log; the number when given as one
};

// The account named by `spec`: a user name or a numeric uid (e.g. "65534",
// which need not exist in /etc/passwd; its gid is then the same number).
// Empty: the dedicated "vgpu-ioreqd" user if it exists, else nobody (65534).
// "root" or 0 is refused: it would defeat the point.
Result<WorkerUser> resolve_worker_user(const std::string& spec);

// setgroups({}), setgid, setuid to `user` (when we are root; otherwise we
// keep our unprivileged ids), then drops every capability from the
// effective, permitted, inheritable and ambient sets and from the bounding
// set, and sets no_new_privs. Call while single-threaded.
Status drop_privileges(const WorkerUser& user);

// Installs the worker's seccomp allow-list: default action kill the process
// (SIGSYS); file opening fails with EACCES instead, so that a library's
// optional lookup cannot kill us but no file is ever opened. Synchronised to
// every thread of the process.
Status install_worker_seccomp();

// The names of the system calls the allow-list admits (for tests and docs).
const char* const* worker_syscalls(size_t* count);

}  // namespace vgpu::app
