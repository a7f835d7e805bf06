#include "vgpu/xenstore/fake_store.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <mutex>
#include <optional>

#include "vgpu/xenstore/transaction_retry.h"

namespace vgpu::xenstore {

namespace {

Error no_node(const std::string& path) {
  return Error{ENOENT, "no XenStore node " + path};
}

// Absolute, no empty components, no trailing slash (except the root).
bool valid_node_path(const std::string& path) {
  if (path.empty() || path.front() != '/') return false;
  if (path == "/") return true;
  return path.back() != '/' && path.find("//") == std::string::npos;
}

Status check_path(const std::string& path) {
  if (valid_node_path(path)) return ok_status();
  return Error{EINVAL, "invalid XenStore path '" + path + "'"};
}

std::string parent_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

// True if `path` is `ancestor` or lies below it.
bool is_under(const std::string& path, const std::string& ancestor) {
  if (ancestor == "/") return path.front() == '/';
  if (path.compare(0, ancestor.size(), ancestor) != 0) return false;
  return path.size() == ancestor.size() || path[ancestor.size()] == '/';
}

std::string child_prefix(const std::string& path) {
  return path == "/" ? "/" : path + "/";
}

// The node operations on one tree, recording what they changed. Used
// directly on the live tree, and on a copy for a transaction.
class TreeEditor final : public StoreOps {
 public:
  explicit TreeEditor(FakeStore::Tree& tree) : tree_(tree) {}

  Result<std::string> read(const std::string& path) override {
    auto it = tree_.find(path);
    if (it == tree_.end()) return no_node(path);
    return it->second.value;
  }

  Result<std::vector<std::string>> list(const std::string& path) override {
    if (!tree_.contains(path)) return no_node(path);
    const std::string prefix = child_prefix(path);
    std::vector<std::string> names;
    for (auto it = tree_.lower_bound(prefix);
         it != tree_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      std::string rest = it->first.substr(prefix.size());
      if (!rest.empty() && rest.find('/') == std::string::npos) names.push_back(std::move(rest));
    }
    return names;
  }

  Status write(const std::string& path, std::string_view value) override {
    if (auto st = check_path(path); !st) return st;
    ensure(path);
    tree_[path].value = std::string(value);
    changed.push_back(path);
    return ok_status();
  }

  Status mkdir(const std::string& path) override {
    if (auto st = check_path(path); !st) return st;
    if (!tree_.contains(path)) changed.push_back(path);
    ensure(path);
    return ok_status();
  }

  Status remove(const std::string& path) override {
    if (auto st = check_path(path); !st) return st;
    if (path == "/") return Error{EINVAL, "refusing to remove the XenStore root"};
    if (!tree_.contains(path)) return ok_status();
    std::erase_if(tree_, [&](const auto& entry) { return is_under(entry.first, path); });
    removed.insert(path);
    changed.push_back(path);
    return ok_status();
  }

  Status set_permissions(const std::string& path, const Permissions& perms) override {
    auto it = tree_.find(path);
    if (it == tree_.end()) return no_node(path);
    it->second.perms = perms;
    changed.push_back(path);
    return ok_status();
  }

  std::vector<std::string> changed;
  std::set<std::string> removed;

 private:
  // Creates `path` and missing ancestors; a new node inherits its parent's
  // permissions, as xenstored does for nodes Dom0 creates.
  void ensure(const std::string& path) {
    if (tree_.contains(path)) return;
    const std::string parent = parent_of(path);
    ensure(parent);
    tree_[path] = FakeStore::Node{"", tree_[parent].perms};
  }

  FakeStore::Tree& tree_;
};

}  // namespace

FakeStore::FakeStore() : event_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  tree_["/"] = Node{};
}

FakeStore::~FakeStore() {
  if (event_fd_ >= 0) ::close(event_fd_);
}

Result<std::string> FakeStore::read(const std::string& path) {
  std::lock_guard lock(mu_);
  return TreeEditor(tree_).read(path);
}

Result<std::vector<std::string>> FakeStore::list(const std::string& path) {
  std::lock_guard lock(mu_);
  return TreeEditor(tree_).list(path);
}

Status FakeStore::write(const std::string& path, std::string_view value) {
  return edit_live([&](StoreOps& ops) { return ops.write(path, value); });
}

Status FakeStore::mkdir(const std::string& path) {
  return edit_live([&](StoreOps& ops) { return ops.mkdir(path); });
}

Status FakeStore::remove(const std::string& path) {
  return edit_live([&](StoreOps& ops) { return ops.remove(path); });
}

Status FakeStore::set_permissions(const std::string& path, const Permissions& perms) {
  return edit_live([&](StoreOps& ops) { return ops.set_permissions(path, perms); });
}

// A direct operation is a one-step edit of the live tree, visible at once.
// `op` only touches the editor, never this store, so it may run locked.
Status FakeStore::edit_live(const std::function<Status(StoreOps&)>& op) {
  Notice notice;
  Status result = ok_status();
  {
    std::lock_guard lock(mu_);
    TreeEditor editor(tree_);
    result = op(editor);
    notice = publish_changes_locked(editor.changed, editor.removed);
  }
  deliver(notice);
  return result;
}

// The body runs unlocked on a snapshot: it may call this store (a test
// playing another writer does), and a change by anyone between snapshot
// and commit is a conflict, exactly as xenstored's EAGAIN.
Status FakeStore::transact(const std::function<Status(StoreOps&)>& body) {
  return retry_transaction([&]() -> std::optional<Status> {
    uint64_t started_at = 0;
    Tree copy;
    {
      std::lock_guard lock(mu_);
      started_at = generation_;
      copy = tree_;
    }
    TreeEditor editor(copy);
    if (auto st = body(editor); !st) return st;
    auto notice = try_commit(std::move(copy), started_at, editor.changed, editor.removed);
    if (!notice) return std::nullopt;
    deliver(*notice);
    return ok_status();
  });
}

std::optional<FakeStore::Notice> FakeStore::try_commit(Tree&& copy, uint64_t started_at,
                                                       const std::vector<std::string>& changed,
                                                       const std::set<std::string>& removed) {
  std::lock_guard lock(mu_);
  if (failing_commits_ > 0) {
    --failing_commits_;
    return std::nullopt;
  }
  if (generation_ != started_at) return std::nullopt;  // someone wrote meanwhile
  tree_ = std::move(copy);
  ++commits_;
  return publish_changes_locked(changed, removed);
}

void FakeStore::deliver(const Notice& notice) {
  if (!notice.observer) return;
  for (const auto& path : notice.changed) notice.observer(path);
}

Status FakeStore::watch(const std::string& path, const std::string& token) {
  if (path.empty() || (path.front() != '@' && !valid_node_path(path))) {
    return Error{EINVAL, "invalid XenStore watch path '" + path + "'"};
  }
  std::lock_guard lock(mu_);
  watches_.push_back(WatchEvent{path, token});
  queue_event_locked(WatchEvent{path, token});  // xenstored fires every new watch once
  return ok_status();
}

Status FakeStore::unwatch(const std::string& path, const std::string& token) {
  std::lock_guard lock(mu_);
  auto it = std::find(watches_.begin(), watches_.end(), WatchEvent{path, token});
  if (it == watches_.end()) return Error{ENOENT, "no watch on " + path + " token " + token};
  watches_.erase(it);
  std::erase_if(pending_, [&](const WatchEvent& e) { return e.token == token; });
  return sync_event_fd_locked();
}

Result<std::optional<WatchEvent>> FakeStore::read_watch() {
  std::lock_guard lock(mu_);
  if (pending_.empty()) return std::optional<WatchEvent>{};
  WatchEvent event = std::move(pending_.front());
  pending_.pop_front();
  if (auto st = sync_event_fd_locked(); !st) return st.error();
  return std::optional<WatchEvent>{std::move(event)};
}

// Keeps the eventfd readable exactly while events wait, like a level-
// triggered fd: a reader that polls never spins on an empty queue. Queue
// and counter change together under mu_, so they never disagree.
Status FakeStore::sync_event_fd_locked() {
  if (!pending_.empty()) return ok_status();
  uint64_t drained = 0;  // reading resets the eventfd counter to zero
  if (::read(event_fd_, &drained, sizeof drained) < 0 && errno != EAGAIN) {
    return errno_error("FakeStore: draining the watch eventfd");
  }
  return ok_status();
}

void FakeStore::fire_special(const std::string& path) {
  std::lock_guard lock(mu_);
  for (const auto& w : watches_) {
    if (w.path == path) queue_event_locked(w);
  }
}

void FakeStore::fail_next_commits(int n) {
  std::lock_guard lock(mu_);
  failing_commits_ = n;
}

void FakeStore::set_change_observer(std::function<void(const std::string&)> observer) {
  std::lock_guard lock(mu_);
  observer_ = std::move(observer);
}

std::optional<Permissions> FakeStore::permissions(const std::string& path) const {
  std::lock_guard lock(mu_);
  auto it = tree_.find(path);
  if (it == tree_.end()) return std::nullopt;
  return it->second.perms;
}

std::vector<std::string> FakeStore::paths() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [path, node] : tree_) {
    if (path != "/") out.push_back(path);
  }
  return out;
}

int FakeStore::commits() const {
  std::lock_guard lock(mu_);
  return commits_;
}

FakeStore::Notice FakeStore::publish_changes_locked(const std::vector<std::string>& changed,
                                                    const std::set<std::string>& removed) {
  if (changed.empty()) return {};
  ++generation_;
  std::vector<WatchEvent> fired;  // in change order, one per (path, token)
  auto fire = [&](const std::string& path, const std::string& token) {
    WatchEvent event{path, token};
    if (std::find(fired.begin(), fired.end(), event) == fired.end()) fired.push_back(event);
  };
  for (const auto& path : changed) {
    for (const auto& w : watches_) {
      if (w.path.front() == '@') continue;
      if (is_under(path, w.path)) {
        fire(path, w.token);
      } else if (removed.contains(path) && is_under(w.path, path)) {
        fire(w.path, w.token);  // a watched node went with its ancestor
      }
    }
  }
  for (auto& event : fired) queue_event_locked(std::move(event));
  // A copy, so a test may replace the observer from inside its callback.
  return observer_ ? Notice{observer_, changed} : Notice{};
}

void FakeStore::queue_event_locked(WatchEvent event) {
  pending_.push_back(std::move(event));
  const uint64_t one = 1;
  // An eventfd write only fails on counter overflow, which cannot happen here.
  [[maybe_unused]] auto n = ::write(event_fd_, &one, sizeof one);
}

}  // namespace vgpu::xenstore
