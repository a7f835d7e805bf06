// BackendPublisher: the daemon's XenStore presence for one guest
// (docs/spec.md §4): publishes the backend and frontend directories, moves
// the backend through the XenbusState sequence, keeps the BAR addresses and
// ioreq-server up to date, and removes everything it created at teardown.
//
// Thread-compatibility: used from the daemon's event-loop thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vgpu/common/result.h"
#include "vgpu/pci/identity.h"
#include "vgpu/pci/sbdf.h"
#include "vgpu/xenstore/paths.h"
#include "vgpu/xenstore/store.h"

namespace vgpu::xenstore {

// The XenbusState values a vgpu backend passes through, in their only legal
// order (xen/io/xenbus.h numbering; 3 Initialised belongs to frontends).
enum class XenbusState : int {
  kInitialising = 1,
  kInitWait = 2,
  kConnected = 4,
  kClosing = 5,
  kClosed = 6,
};

std::string_view to_string(XenbusState state);

struct BackendInfo {
  uint16_t domid = 0;
  pci::Sbdf sbdf;
  pci::DeviceIdentity identity;  // vendor-id, device-id, class, bar<N>-size
  // Device-specific keys with their first values (a device's status).
  std::vector<std::pair<std::string, std::string>> device_keys;
  int pid = 0;  // 0: this process
};

class BackendPublisher {
 public:
  BackendPublisher(Store& store, BackendInfo info);
  // Tears down (logging any failure) if still published.
  ~BackendPublisher();
  BackendPublisher(const BackendPublisher&) = delete;
  BackendPublisher& operator=(const BackendPublisher&) = delete;

  // Writes both directories in one transaction, backend state 1. Fails with
  // EBUSY if the backend directory names another live daemon's pid.
  Status publish();

  // Moves the backend state forward (skipping steps is allowed, e.g. 2 -> 5
  // when setup fails); the same state again is a no-op; backwards is an
  // Error (EINVAL) and writes nothing. The frontend state is the guest's.
  Status set_state(XenbusState state);
  XenbusState state() const { return state_; }

  Status set_ioreq_server(uint16_t id);
  // Any backend key the daemon owns (not one the launcher or guest owns).
  Status set_key(std::string_view key, std::string_view value);

  // Closing, Closed, then removes both directories and the parents publish()
  // created if they are now empty, in one transaction; if transactions keep
  // conflicting, node by node instead (only the shared backend type
  // directory may then stay, empty). Idempotent; a no-op before publish().
  Status teardown();

  bool published() const { return published_; }
  const XenstorePaths& paths() const { return paths_; }

 private:
  Status write_all(StoreOps& ops);
  // EBUSY when a live daemon serves the guest; true when a dead one's
  // nodes are there (ours to overwrite), false when there are none.
  Result<bool> check_not_in_use(StoreOps& ops);
  // Writes one backend key, unless the backend directory has vanished
  // (ENOENT): a plain write would silently recreate it.
  Status update_backend_key(std::string_view key, std::string_view value);
  Status remove_all(StoreOps& ops);
  Status remove_without_transaction();

  Store& store_;
  BackendInfo info_;
  XenstorePaths paths_;
  XenbusState state_ = XenbusState::kInitialising;
  bool published_ = false;
  std::vector<std::string> created_parents_;
};

}  // namespace vgpu::xenstore
