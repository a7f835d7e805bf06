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
// Thread-compatibility: one thread at a time.
#pragma once

#include <deque>
#include <functional>
#include <map>
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
  void fail_next_commits(int n) { failing_commits_ = n; }
  // Called after each change becomes visible to other connections, with the
  // changed path; lets a test look at the tree at every observable instant.
  void set_change_observer(std::function<void(const std::string&)> observer) {
    observer_ = std::move(observer);
  }
  // The node's permissions, or nullopt if it does not exist.
  std::optional<Permissions> permissions(const std::string& path) const;
  // Every node path, sorted ("/" excluded).
  std::vector<std::string> paths() const;
  int commits() const { return commits_; }

  struct Node {
    std::string value;
    Permissions perms;
  };
  using Tree = std::map<std::string, Node>;

 private:
  Status edit_live(const std::function<Status(StoreOps&)>& op);
  // Applies a finished edit's effects: observers, watches, conflicts.
  void publish_changes(const std::vector<std::string>& changed,
                       const std::set<std::string>& removed);
  void queue_event(WatchEvent event);
  Status sync_event_fd();

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
