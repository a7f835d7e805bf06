// Runs app::serve() - the daemon's whole life as vgpu-ioreqd runs it, minus
// opening Xen - on its own thread against a SimHypervisor and a FakeStore,
// and tells the test when the backend reaches Connected.
//
// Thread-compatible: the constructing thread owns it.
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "vgpu/app/runner.h"
#include "vgpu/sim/sim_hypervisor.h"
#include "vgpu/xenstore/fake_store.h"

namespace vgpu::testing {

class ServedDaemon {
 public:
  // `options.run_dir` is replaced by a fresh directory of this object's own.
  ServedDaemon(sim::SimHypervisor& hv, xenstore::FakeStore& store, app::Options options,
               app::DeviceSpec device)
      : hv_(hv), store_(store), options_(std::move(options)), device_(std::move(device)) {
    run_dir_ = std::filesystem::temp_directory_path() /
               ("vgpu-served-" + std::to_string(::getpid()) + "-" + std::to_string(next_id()));
    options_.run_dir = run_dir_.string();
    state_path_ = "/local/domain/0/backend/vgpu/" + std::to_string(options_.domid) + "/0/state";
    store_.set_change_observer([this](const std::string& path) {
      {
        std::lock_guard lock(mutex_);
        ++changes_[path];
      }
      if (path != state_path_) return;
      auto v = store_.read(state_path_);
      if (v && *v == "4") connected_ = true;
    });
    exit_code_ = std::async(std::launch::async,
                            [this] { return app::serve(hv_, store_, options_, device_); });
  }
  // Ends the run as xl destroy would, if the test has not.
  ~ServedDaemon() {
    if (exit_code_.valid()) stop();
    store_.set_change_observer({});
    std::filesystem::remove_all(run_dir_);
  }
  ServedDaemon(const ServedDaemon&) = delete;
  ServedDaemon& operator=(const ServedDaemon&) = delete;

  // Waits (bounded) until the backend says Connected.
  bool wait_connected(std::chrono::milliseconds timeout = std::chrono::seconds(5)) const {
    for (auto until = std::chrono::steady_clock::now() + timeout;
         std::chrono::steady_clock::now() < until;
         std::this_thread::sleep_for(std::chrono::milliseconds(1)))
      if (connected_) return true;
    return false;
  }

  // Destroys the domain and returns the daemon's exit code.
  int stop() {
    hv_.destroy_domain();
    store_.fire_special("@releaseDomain");
    return exit_code_.get();
  }

  std::string backend_key(const std::string& key) const {
    auto v = store_.read(backend_path(key));
    return v ? *v : "<absent>";
  }
  // How many times the daemon changed a backend key in XenStore.
  unsigned changes_of(const std::string& key) const {
    std::lock_guard lock(mutex_);
    auto it = changes_.find(backend_path(key));
    return it == changes_.end() ? 0 : it->second;
  }

 private:
  std::string backend_path(const std::string& key) const {
    return "/local/domain/0/backend/vgpu/" + std::to_string(options_.domid) + "/0/" + key;
  }
  static unsigned next_id() {
    static std::atomic<unsigned> id{0};
    return id++;
  }

  sim::SimHypervisor& hv_;
  xenstore::FakeStore& store_;
  app::Options options_;
  app::DeviceSpec device_;
  std::filesystem::path run_dir_;
  std::string state_path_;
  std::atomic<bool> connected_{false};
  mutable std::mutex mutex_;
  std::map<std::string, unsigned> changes_;
  std::future<int> exit_code_;
};

}  // namespace vgpu::testing
