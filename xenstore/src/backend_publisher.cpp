#include "vgpu/xenstore/backend_publisher.h"

#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <string>
#include <utility>
#include <vector>

namespace vgpu::xenstore {

std::string_view to_string(XenbusState state) {
  switch (state) {
    case XenbusState::kInitialising:
      return "Initialising";
    case XenbusState::kInitWait:
      return "InitWait";
    case XenbusState::kConnected:
      return "Connected";
    case XenbusState::kClosing:
      return "Closing";
    case XenbusState::kClosed:
      return "Closed";
  }
  return "Unknown";
}

namespace {

std::string state_value(XenbusState s) {
  return std::to_string(static_cast<int>(s));
}

// Backend: Dom0 owns it, the guest may read it, nobody else sees it.
Permissions backend_perms(uint16_t domid) {
  return Permissions{XenstorePaths::kBackendDomid, Access::kNone, {{domid, Access::kRead}}};
}

// Frontend: the guest owns it, Dom0 may read it.
Permissions frontend_perms(uint16_t domid) {
  return Permissions{domid, Access::kNone, {{XenstorePaths::kBackendDomid, Access::kRead}}};
}

// Each node gets its permissions explicitly: keys someone else wrote into a
// pre-existing directory (the hotplug flow) would not inherit them.
Status put(StoreOps& ops, const std::string& path, std::string_view value,
           const Permissions& perms) {
  if (auto st = ops.write(path, value); !st) return st;
  return ops.set_permissions(path, perms);
}

bool process_alive(int pid) {
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

}  // namespace

BackendPublisher::BackendPublisher(Store& store, BackendInfo info)
    : store_(store), info_(std::move(info)), paths_(XenstorePaths::for_domain(info_.domid)) {
  if (info_.pid == 0) info_.pid = static_cast<int>(::getpid());
}

BackendPublisher::~BackendPublisher() {
  if (!published_) return;
  if (auto st = teardown(); !st) {
    spdlog::error("XenStore teardown for domain {} failed: {}", info_.domid, st.error().describe());
  }
}

Status BackendPublisher::publish() {
  if (published_) return Error{EALREADY, "XenStore backend already published"};
  std::vector<std::string> created;
  Status st = store_.transact([&](StoreOps& ops) -> Status {
    created.clear();  // the body may run more than once
    for (const auto& dir : paths_.shared_parents()) {
      auto existing = ops.read(dir);
      if (!existing && existing.error().code != ENOENT) return existing.error();
      if (!existing) created.push_back(dir);
    }
    auto stale = check_not_in_use(ops);
    if (!stale) return stale.error();
    // A dead daemon's nodes (a restart after kill -9): its parents become
    // ours to remove, or the per-guest ones would outlive the guest. The
    // shared type directory still goes only when a transaction proves it
    // empty.
    if (*stale) created = paths_.shared_parents();
    return write_all(ops);
  });
  if (!st) return st;
  published_ = true;
  state_ = XenbusState::kInitialising;
  created_parents_ = std::move(created);
  spdlog::info("XenStore: published {} (state {})", paths_.backend, to_string(state_));
  return ok_status();
}

// A stale directory from a daemon that died is ours to overwrite; one whose
// pid still runs belongs to a live daemon serving the same guest.
Result<bool> BackendPublisher::check_not_in_use(StoreOps& ops) {
  auto pid_text = ops.read(paths_.backend_key(keys::kPid));
  if (!pid_text) return false;
  int pid = 0;
  const std::string& s = pid_text.value();
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), pid);
  if (ec != std::errc{} || end != s.data() + s.size() || pid <= 0) return true;
  if (pid == info_.pid || !process_alive(pid)) return true;
  return Error{EBUSY, fmt::format("domain {} already has a vgpu backend served by pid {} ({})",
                                  info_.domid, pid, paths_.backend)};
}

Status BackendPublisher::write_all(StoreOps& ops) {
  const Permissions be = backend_perms(info_.domid);
  const Permissions fe = frontend_perms(info_.domid);
  const pci::DeviceIdentity& id = info_.identity;
  std::vector<std::pair<std::string, std::string>> backend_keys = {
      {std::string(keys::kFrontend), paths_.frontend},
      {std::string(keys::kFrontendId), std::to_string(info_.domid)},
      {std::string(keys::kOnline), "1"},
      {std::string(keys::kState), state_value(XenbusState::kInitialising)},
      {std::string(keys::kSbdf), info_.sbdf.to_string()},
      {std::string(keys::kVendorId), fmt::format("{:#06x}", id.vendor_id)},
      {std::string(keys::kDeviceId), fmt::format("{:#06x}", id.device_id)},
      {std::string(keys::kClass), fmt::format("{:#08x}", id.class_code)},
  };
  for (unsigned i = 0; i < pci::kBarCount; ++i) {
    if (!id.bars[i].implemented()) continue;
    backend_keys.emplace_back(keys::bar(i), "");  // empty until the guest enables decoding
    backend_keys.emplace_back(keys::bar_size(i), std::to_string(id.bars[i].size));
  }
  backend_keys.emplace_back(keys::kIoreqServer, "");
  backend_keys.emplace_back(keys::kPid, std::to_string(info_.pid));
  for (const auto& [key, value] : info_.device_keys) backend_keys.emplace_back(key, value);
  if (auto st = put(ops, paths_.backend, "", be); !st) return st;
  for (const auto& [key, value] : backend_keys) {
    if (auto st = put(ops, paths_.backend_key(key), value, be); !st) return st;
  }
  const std::pair<std::string_view, std::string> frontend_keys[] = {
      {keys::kBackend, paths_.backend},
      {keys::kBackendId, std::to_string(XenstorePaths::kBackendDomid)},
      {keys::kState, state_value(XenbusState::kInitialising)},
  };
  if (auto st = put(ops, paths_.frontend, "", fe); !st) return st;
  for (const auto& [key, value] : frontend_keys) {
    if (auto st = put(ops, paths_.frontend_key(key), value, fe); !st) return st;
  }
  return ok_status();
}

Status BackendPublisher::update_backend_key(std::string_view key, std::string_view value) {
  if (!published_) return Error{EINVAL, "XenStore backend not published"};
  return store_.transact([&](StoreOps& ops) -> Status {
    if (auto dir = ops.read(paths_.backend); !dir) {
      if (dir.error().code != ENOENT) return dir.error();
      return Error{ENOENT, "XenStore backend directory " + paths_.backend + " vanished"};
    }
    return ops.write(paths_.backend_key(key), value);
  });
}

Status BackendPublisher::set_state(XenbusState state) {
  if (state < state_) {
    return Error{EINVAL, fmt::format("backend state may not go backwards ({} -> {})",
                                     to_string(state_), to_string(state))};
  }
  if (state == state_ && published_) return ok_status();
  if (auto st = update_backend_key(keys::kState, state_value(state)); !st) return st;
  spdlog::info("XenStore: domain {} backend state {} -> {}", info_.domid, to_string(state_),
               to_string(state));
  state_ = state;
  return ok_status();
}

Status BackendPublisher::set_ioreq_server(uint16_t id) {
  return update_backend_key(keys::kIoreqServer, std::to_string(id));
}

Status BackendPublisher::set_key(std::string_view key, std::string_view value) {
  return update_backend_key(key, value);
}

Status BackendPublisher::teardown() {
  if (!published_) return ok_status();
  for (XenbusState s : {XenbusState::kClosing, XenbusState::kClosed}) {
    if (s <= state_) continue;
    // Keep going whatever happens: removing the nodes matters more than the
    // goodbye states, and a vanished directory (guest destroyed) is normal.
    if (auto st = set_state(s); !st && st.error().code != ENOENT) {
      spdlog::warn("XenStore: could not set state {}: {}", to_string(s), st.error().describe());
    }
  }
  Status removed = store_.transact([&](StoreOps& ops) { return remove_all(ops); });
  if (!removed && removed.error().code == EAGAIN) removed = remove_without_transaction();
  if (!removed) return removed;
  published_ = false;
  spdlog::info("XenStore: removed {} and {}", paths_.backend, paths_.frontend);
  return ok_status();
}

// Every transaction conflicted: a guest rewriting its own frontend nodes in
// a loop can make that happen at will, and must not make us leave nodes
// behind. Each remove is atomic by itself; what is lost is only that others
// may see the backend gone before the frontend. The per-guest parents are
// ours alone. The shared backend type directory, where other guests'
// daemons publish, is removed only by a transaction that proves it empty:
// a separate list and remove could race with a new guest's publish.
Status BackendPublisher::remove_without_transaction() {
  spdlog::warn("XenStore: transactions keep conflicting; removing {} and {} node by node",
               paths_.backend, paths_.frontend);
  if (auto st = store_.remove(paths_.backend); !st) return st;
  if (auto st = store_.remove(paths_.frontend); !st) return st;
  for (const std::string& dir : {paths_.backend_domain_dir, paths_.frontend_type_dir}) {
    if (std::find(created_parents_.begin(), created_parents_.end(), dir) == created_parents_.end())
      continue;
    auto children = store_.list(dir);
    if (!children && children.error().code != ENOENT) return children.error();
    if (children && children->empty()) {
      if (auto st = store_.remove(dir); !st) return st;
    }
  }
  if (std::find(created_parents_.begin(), created_parents_.end(), paths_.backend_type_dir) !=
      created_parents_.end()) {
    Status st = store_.transact([&](StoreOps& ops) -> Status {
      auto children = ops.list(paths_.backend_type_dir);
      if (!children) return children.error().code == ENOENT ? ok_status() : children.error();
      return children->empty() ? ops.remove(paths_.backend_type_dir) : ok_status();
    });
    if (!st)
      spdlog::warn("XenStore: left the empty {}: {}", paths_.backend_type_dir,
                   st.error().describe());
  }
  return ok_status();
}

Status BackendPublisher::remove_all(StoreOps& ops) {
  if (auto st = ops.remove(paths_.backend); !st) return st;
  if (auto st = ops.remove(paths_.frontend); !st) return st;
  // Deepest first, so a parent emptied by its child's removal goes too.
  std::vector<std::string> parents = created_parents_;
  std::sort(parents.begin(), parents.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const auto& dir : parents) {
    auto children = ops.list(dir);
    if (!children) {
      if (children.error().code == ENOENT) continue;
      return children.error();
    }
    if (!children->empty()) continue;  // another guest's backend lives there
    if (auto st = ops.remove(dir); !st) return st;
  }
  return ok_status();
}

}  // namespace vgpu::xenstore
