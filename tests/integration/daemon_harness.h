// Runs the real daemon (server, event loop, dispatcher, device host, claims)
// on its own thread against a SimHypervisor, as the integration tests need.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <thread>

#include "vgpu/app/daemon.h"
#include "vgpu/sim/sim_hypervisor.h"

namespace vgpu::testing {

inline const pci::Sbdf kSbdf0005{0, 0, 5, 0};

class DaemonThread {
 public:
  explicit DaemonThread(sim::SimHypervisor& hv, app::DaemonConfig config = {kSbdf0005, {}}) {
    auto d = app::Daemon::start(hv, config);
    if (!d) {
      ADD_FAILURE() << "daemon failed to start: " << d.error().describe();
      return;
    }
    daemon_ = std::move(*d);
    thread_ = std::thread([this] { status_ = daemon_->run(); });
  }
  ~DaemonThread() { stop(); }

  // Stops serving and tears down (the daemon's destructor), as on SIGTERM.
  void stop() {
    if (!daemon_) return;
    daemon_->request_stop();
    thread_.join();
    EXPECT_TRUE(status_.ok()) << status_.error().describe();
    daemon_.reset();
  }

  bool running() const { return daemon_ != nullptr; }
  app::Daemon& daemon() { return *daemon_; }

 private:
  std::unique_ptr<app::Daemon> daemon_;
  std::thread thread_;
  Status status_;
};

}  // namespace vgpu::testing
