// Store: the XenStore operations the daemon needs, behind one interface.
//
// XsStore (xs_store.h) talks to the real xenstored through libxenstore;
// FakeStore (fake_store.h) is an in-memory tree with the same semantics for
// tests and --simulate. Paths are absolute ("/local/domain/0/...") or
// special ("@releaseDomain", watch-only).
//
// Thread-compatibility: a Store is used from one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vgpu/common/result.h"

namespace vgpu::xenstore {

// What a domain may do with a node (XS_PERM_READ / XS_PERM_WRITE).
enum class Access : uint8_t { kNone = 0, kRead = 1, kWrite = 2, kReadWrite = 3 };

struct DomainAccess {
  uint16_t domid = 0;
  Access access = Access::kNone;
  friend bool operator==(const DomainAccess&, const DomainAccess&) = default;
};

// A node's permissions in xs_set_permissions' shape: the first entry names
// the owner (who may always read and write) and, with its access bits, what
// every domain not listed in `grants` may do.
struct Permissions {
  uint16_t owner = 0;
  Access others = Access::kNone;
  std::vector<DomainAccess> grants;
  friend bool operator==(const Permissions&, const Permissions&) = default;
};

// A fired watch: the node that changed (or the special path) and the token
// given to watch().
struct WatchEvent {
  std::string path;
  std::string token;
  friend bool operator==(const WatchEvent&, const WatchEvent&) = default;
};

// Node operations, valid both directly on a Store and inside a transaction.
// Absent nodes are reported as an Error with code ENOENT.
class StoreOps {
 public:
  virtual ~StoreOps() = default;

  // The node's value ("" for a pure directory).
  virtual Result<std::string> read(const std::string& path) = 0;
  // Names (not paths) of the node's children.
  virtual Result<std::vector<std::string>> list(const std::string& path) = 0;
  // Creates missing ancestors, which inherit their parent's permissions.
  virtual Status write(const std::string& path, std::string_view value) = 0;
  virtual Status mkdir(const std::string& path) = 0;
  // Removes the node and everything below it; an absent node is success.
  virtual Status remove(const std::string& path) = 0;
  virtual Status set_permissions(const std::string& path, const Permissions& perms) = 0;
};

// Bound on transaction attempts: a conflict each time means something is
// rewriting the same nodes in a loop, and giving up beats spinning forever.
// Retries pause with a growing, jittered backoff (transaction_retry.h).
inline constexpr int kMaxTransactionAttempts = 16;

class Store : public StoreOps {
 public:
  // Runs `body` against a transaction and commits it, so that every change
  // it makes appears to others at once. When the commit reports a conflict
  // (EAGAIN) the body runs again on a fresh transaction, after a short
  // randomised pause, so it must not keep side effects outside the ops it is
  // given between attempts. An Error from the body abandons the transaction
  // and is returned; so is EAGAIN after kMaxTransactionAttempts conflicts.
  virtual Status transact(const std::function<Status(StoreOps&)>& body) = 0;

  // Registers a watch on `path` and everything below it. As with xenstored,
  // the watch fires once right after registration.
  virtual Status watch(const std::string& path, const std::string& token) = 0;
  virtual Status unwatch(const std::string& path, const std::string& token) = 0;
  // Readable while fired watches are waiting in read_watch(). Level-
  // triggered: call read_watch() until it returns nullopt.
  virtual int watch_fd() const = 0;
  // The next fired watch, or nullopt when none is waiting (never blocks).
  virtual Result<std::optional<WatchEvent>> read_watch() = 0;
};

}  // namespace vgpu::xenstore
