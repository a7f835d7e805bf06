// One daemon per (domain, SBDF): an flock on a file under the run directory.
//
// flock is tied to the open file description, so the kernel releases the
// claim when the process dies, however it dies; a stale file left behind is
// simply locked again by the next daemon. Thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "vgpu/common/result.h"
#include "vgpu/pci/sbdf.h"

namespace vgpu::app {

class InstanceLock {
 public:
  // Creates `run_dir` if needed and locks "<run_dir>/dom<domid>-<SSSS>-<BB>-<DD>.<F>.lock",
  // writing our pid into it. If another process (or another open of the same
  // file in this one) holds it, fails with EBUSY naming the holder's pid.
  // Refuses (EPERM, ELOOP) a run directory or lock file others could have
  // planted (run_dir.h): a symlink, a directory not root's or ours or
  // writable by others, a lock file not a plain single-link file of ours.
  static Result<InstanceLock> acquire(const std::string& run_dir, uint16_t domid,
                                      const pci::Sbdf& sbdf);

  // The name every file of this instance in the run directory starts with,
  // e.g. "dom7-0000-00-05.0" (the restart files add ".state" and ".mem").
  static std::string instance_name(uint16_t domid, const pci::Sbdf& sbdf);
  // The lock file's name inside the run directory, e.g. "dom7-0000-00-05.0.lock".
  static std::string file_name(uint16_t domid, const pci::Sbdf& sbdf) {
    return instance_name(domid, sbdf) + ".lock";
  }

  InstanceLock(InstanceLock&& other) noexcept;
  InstanceLock& operator=(InstanceLock&& other) noexcept;
  InstanceLock(const InstanceLock&) = delete;
  InstanceLock& operator=(const InstanceLock&) = delete;
  // Removes the file, then unlocks it.
  ~InstanceLock();

  const std::string& path() const { return path_; }

 private:
  InstanceLock(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  void release() noexcept;

  std::string path_;
  int fd_ = -1;
};

}  // namespace vgpu::app
