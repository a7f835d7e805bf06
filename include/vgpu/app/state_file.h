// What outlives the daemon's process so that a restarted daemon can take
// over its guest (docs/spec.md §12): "<run-dir>/<instance>.state", a small
// file the worker writes through a shared mapping, so that saving is a
// memory copy and no system call (the worker's seccomp filter allows none
// for files).
//
// Layout: one header page (which domain, SBDF and ioreq server the state
// belongs to) and two slots. A save writes the slot not holding the newest
// state, then its CRC-32C, then publishes it by raising its sequence number,
// so a process killed at any instant leaves one whole, valid slot: the
// newest complete save. The file is read back as untrusted input (the
// worker that wrote it handled guest data): every length is bounded and the
// CRC checked, and the device validates what it restores.
//
// Thread-compatible: save() is called on the daemon's loop thread only.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vgpu/app/daemon.h"
#include "vgpu/common/result.h"
#include "vgpu/hv/hypervisor.h"
#include "vgpu/pci/sbdf.h"

namespace vgpu::app {

// Who the state is for: a restarted daemon must serve the same domain
// (domids are reused; the handle is the domain's UUID) and SBDF.
struct StateOwner {
  uint16_t domid = 0;
  pci::Sbdf sbdf;
  std::array<uint8_t, 16> domain_handle{};
};

class StateFile final : public DeviceStateSink {
 public:
  // Bytes of device state a slot holds (the stub saves about 8 KiB, plus
  // 40 bytes per live device-memory handle).
  static constexpr size_t kSlotCapacity = 256 * 1024;

  // Opens or creates (mode 0600) `name` in the trusted directory `dir_fd`
  // without following a symlink, checks it is a plain file of ours, sizes
  // and maps it. The contents are left as they are.
  static Result<std::unique_ptr<StateFile>> open(int dir_fd, const std::string& name);
  ~StateFile() override;
  StateFile(const StateFile&) = delete;
  StateFile& operator=(const StateFile&) = delete;

  // The ioreq server a dead daemon left for `owner`, if the header names
  // one, with or without a valid save: a daemon killed between creating
  // its server and its first save left a server only its successor knows
  // of, whose take-over then fails on the missing save and destroys it.
  std::optional<hv::ServerId> server_for(const StateOwner& owner) const;
  // The newest complete save; ENOENT when none is valid. Also what a
  // take-over loads (Resume::load_state).
  Result<std::vector<std::byte>> load() const;

  // A fresh start: the header names `owner` and no server; no slot is valid.
  void reset(const StateOwner& owner);
  // The server now serving `owner` (after reset()), recorded the moment
  // Xen created it.
  void set_server(hv::ServerId id);
  // A take-over failed: same owner, no server, no valid save.
  void forget_server();

  // DeviceStateSink. Bytes beyond kSlotCapacity are not saved (the previous
  // save stays the newest) and logged once.
  void save(std::span<const std::byte> state) override;

  uint64_t saves() const { return saves_; }

 private:
  StateFile(int fd, std::byte* base) : fd_(fd), base_(base) {}
  // No slot holds a valid save any more.
  void invalidate_slots();

  int fd_;
  std::byte* base_;
  uint64_t saves_ = 0;
  bool overflow_logged_ = false;
};

}  // namespace vgpu::app
