// FakeStore: an in-memory XenStore for tests and --simulate.
//
// Follows xenstored where the daemon can tell the difference: writes create
// missing ancestors that inherit their parent's permissions; remove is
// recursive; a watch fires on its path and everything below it (and on
// watched descendants of a removed node), once at registration, and for a
// transaction only when it commits, for every node it changed. A commit
// fails with EAGAIN if the tree changed since the transaction started.
// Permissions are recorded, not enforced (the daemon runs as Dom0).
//
// Thread-safety: every method may be called from any thread at any time,
// because the fake stands in for xenstored, another process: tests fire
// watches and read nodes from their own thread while the daemon's thread
// uses the same store. One mutex guards all state. A transaction's body runs
// on a private copy of the tree without the lock (xenstored's transactions
// are optimistic too), so it may call this store, and a write meanwhile by
// anyone makes the commit retry. The change observer runs after the lock is
// released, so it may call any method.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "vgpu/xenstore/store.h"

namespace vgpu::xenstore {

class FakeStore final : public Store {
 public:
  FakeStore();
  ~FakeStore() override;
  FakeStore(const FakeStore&) = delete;
  FakeStore& operator=(const FakeStore&) = delete;

  Result<std::string> read(const std::string& path) override;
  Result<std::vector<std::string>> list(const std::string& path) override;
  Status write(const std::string& path, std::string_view value) override;
  Status mkdir(const std::string& path) override;
  Status remove(const std::string& path) override;
  Status set_permissions(const std::string& path, const Permissions& perms) override;
  Status transact(const std::function<Status(StoreOps&)>& body) override;
  Status watch(const std::string& path, const std::string& token) override;
  Status unwatch(const std::string& path, const std::string& token) override;
  int watch_fd() const override { return event_fd_; }
  Result<std::optional<WatchEvent>> read_watch() override;

  // --- test controls ---

  // Fires watches on a special path such as "@releaseDomain".
  void fire_special(const std::string& path);
  // The next `n` commits fail with EAGAIN, as if another writer raced us.
  void fail_next_commits(int n);
  // Called after each change becomes visible to other connections, with the
  // changed path, on the thread that made the change and without the lock
  // held; lets a test look at the tree right after every observable change.
  void set_change_observer(std::function<void(const std::string&)> observer);
  // The node's permissions, or nullopt if it does not exist.
  std::optional<Permissions> permissions(const std::string& path) const;
  // Every node path, sorted ("/" excluded).
  std::vector<std::string> paths() const;
  int commits() const;

  struct Node {
    std::string value;
    Permissions perms;
  };
  using Tree = std::map<std::string, Node>;

 private:
  // Changed paths to hand to the observer once the lock is released.
  struct Notice {
    std::function<void(const std::string&)> observer;
    std::vector<std::string> changed;
  };

  Status edit_live(const std::function<Status(StoreOps&)>& op);
  // One commit attempt of a body's result; nullopt means "conflict, retry".
  std::optional<Notice> try_commit(Tree&& copy, uint64_t started_at,
                                   const std::vector<std::string>& changed,
                                   const std::set<std::string>& removed);
  static void deliver(const Notice& notice);

  // The *_locked helpers require mu_ held.
  // Applies a finished edit's effects: watches, conflicts; returns what the
  // observer must be told.
  Notice publish_changes_locked(const std::vector<std::string>& changed,
                                const std::set<std::string>& removed);
  void queue_event_locked(WatchEvent event);
  Status sync_event_fd_locked();

  mutable std::mutex mu_;
  Tree tree_;
  uint64_t generation_ = 0;  // bumped on every visible change, for conflicts
  std::vector<WatchEvent> watches_;
  std::deque<WatchEvent> pending_;
  int event_fd_ = -1;
  int failing_commits_ = 0;
  int commits_ = 0;
  std::function<void(const std::string&)> observer_;
};

}  // namespace vgpu::xenstore
