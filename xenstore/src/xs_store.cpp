// The only file that includes libxenstore.
#include "vgpu/xenstore/xs_store.h"

// Xen 4.17's xenstore.h has no extern "C" guard of its own.
extern "C" {
#include <xenstore.h>
}

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <vector>

#include "vgpu/xenstore/transaction_retry.h"

namespace vgpu::xenstore {

namespace {

// libxenstore hands out malloc'ed memory.
struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

unsigned int xs_access(Access a) {
  return (a == Access::kRead || a == Access::kReadWrite ? XS_PERM_READ : 0U) |
         (a == Access::kWrite || a == Access::kReadWrite ? XS_PERM_WRITE : 0U);
}

// Node operations on one connection, either outside a transaction
// (XBT_NULL) or inside the given one.
class XsOps final : public StoreOps {
 public:
  XsOps(xs_handle* h, xs_transaction_t t) : h_(h), t_(t) {}

  Result<std::string> read(const std::string& path) override {
    unsigned int len = 0;
    std::unique_ptr<char, FreeDeleter> v(static_cast<char*>(xs_read(h_, t_, path.c_str(), &len)));
    if (!v) return errno_error("XenStore read " + path);
    return std::string(v.get(), len);
  }

  Result<std::vector<std::string>> list(const std::string& path) override {
    unsigned int n = 0;
    std::unique_ptr<char*, FreeDeleter> v(xs_directory(h_, t_, path.c_str(), &n));
    if (!v) return errno_error("XenStore directory " + path);
    return std::vector<std::string>(v.get(), v.get() + n);
  }

  Status write(const std::string& path, std::string_view value) override {
    if (!xs_write(h_, t_, path.c_str(), value.data(), static_cast<unsigned int>(value.size()))) {
      return errno_error("XenStore write " + path);
    }
    return ok_status();
  }

  Status mkdir(const std::string& path) override {
    if (!xs_mkdir(h_, t_, path.c_str())) return errno_error("XenStore mkdir " + path);
    return ok_status();
  }

  Status remove(const std::string& path) override {
    // Removal is idempotent: a node that is already gone is what we wanted.
    if (!xs_rm(h_, t_, path.c_str()) && errno != ENOENT) {
      return errno_error("XenStore remove " + path);
    }
    return ok_status();
  }

  Status set_permissions(const std::string& path, const Permissions& perms) override {
    std::vector<xs_permissions> xp;
    xp.push_back(xs_permissions{perms.owner, xs_access(perms.others)});
    for (const auto& g : perms.grants) xp.push_back(xs_permissions{g.domid, xs_access(g.access)});
    if (!xs_set_permissions(h_, t_, path.c_str(), xp.data(),
                            static_cast<unsigned int>(xp.size()))) {
      return errno_error("XenStore set permissions on " + path);
    }
    return ok_status();
  }

 private:
  xs_handle* h_;
  xs_transaction_t t_;
};

class XsStore final : public Store {
 public:
  XsStore(xs_handle* h, int fd) : h_(h), fd_(fd), direct_(h, XBT_NULL) {}
  ~XsStore() override { xs_close(h_); }
  XsStore(const XsStore&) = delete;
  XsStore& operator=(const XsStore&) = delete;

  Result<std::string> read(const std::string& path) override { return direct_.read(path); }
  Result<std::vector<std::string>> list(const std::string& path) override {
    return direct_.list(path);
  }
  Status write(const std::string& path, std::string_view value) override {
    return direct_.write(path, value);
  }
  Status mkdir(const std::string& path) override { return direct_.mkdir(path); }
  Status remove(const std::string& path) override { return direct_.remove(path); }
  Status set_permissions(const std::string& path, const Permissions& perms) override {
    return direct_.set_permissions(path, perms);
  }

  Status transact(const std::function<Status(StoreOps&)>& body) override;

  Status watch(const std::string& path, const std::string& token) override {
    if (!xs_watch(h_, path.c_str(), token.c_str())) return errno_error("XenStore watch " + path);
    return ok_status();
  }
  Status unwatch(const std::string& path, const std::string& token) override {
    if (!xs_unwatch(h_, path.c_str(), token.c_str())) {
      return errno_error("XenStore unwatch " + path);
    }
    return ok_status();
  }
  int watch_fd() const override { return fd_; }
  Result<std::optional<WatchEvent>> read_watch() override;

 private:
  xs_handle* h_;
  int fd_;
  XsOps direct_;
};

Status XsStore::transact(const std::function<Status(StoreOps&)>& body) {
  return retry_transaction([&]() -> std::optional<Status> {
    xs_transaction_t t = xs_transaction_start(h_);
    if (t == XBT_NULL) return errno_error("XenStore transaction start");
    XsOps ops(h_, t);
    if (Status st = body(ops); !st) {
      xs_transaction_end(h_, t, true);  // abandon; the body's error is the one to report
      return st;
    }
    if (xs_transaction_end(h_, t, false)) return ok_status();
    if (errno != EAGAIN) return errno_error("XenStore transaction commit");
    return std::nullopt;
  });
}

Result<std::optional<WatchEvent>> XsStore::read_watch() {
  std::unique_ptr<char*, FreeDeleter> v(xs_check_watch(h_));
  if (!v) {
    if (errno == EAGAIN) return std::optional<WatchEvent>{};
    return errno_error("XenStore reading a fired watch");
  }
  return std::optional<WatchEvent>{WatchEvent{v.get()[XS_WATCH_PATH], v.get()[XS_WATCH_TOKEN]}};
}

}  // namespace

Result<std::unique_ptr<Store>> open_xenstore() {
  xs_handle* h = xs_open(0);
  if (!h) {
    return errno_error(
        "cannot connect to xenstored (needs Dom0 with xenstored running and root privileges; "
        "tried its socket and /dev/xen/xenbus)");
  }
  const int fd = xs_fileno(h);
  if (fd < 0) {
    Error e = errno_error("XenStore: cannot get the watch file descriptor");
    xs_close(h);
    return e;
  }
  return std::unique_ptr<Store>(std::make_unique<XsStore>(h, fd));
}

}  // namespace vgpu::xenstore
