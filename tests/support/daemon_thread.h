// Runs the real daemon (app::Daemon: server, event loop, dispatcher, device
// host, claims) on its own thread against a SimHypervisor, as the
// integration and hardening tests and the round-trip benchmark need.
//
// Free of gtest, so that bench/ can use it too. Failures are loud either way:
// a daemon that fails to start throws std::runtime_error from the
// constructor (a test reports the exception as its failure; a benchmark
// stops), and a run() that ends in an error prints it and aborts on the
// daemon's thread, where nothing can be thrown to anyone.
//
// Thread-compatible: the constructing thread owns it; the daemon runs on its
// own thread until stop().
#pragma once

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <thread>

#include "vgpu/app/daemon.h"
#include "vgpu/device/vgpu_stub.h"
#include "vgpu/sim/sim_hypervisor.h"

namespace vgpu::testing {

inline const pci::Sbdf kSbdf0005{0, 0, 5, 0};

class DaemonThread {
 public:
  explicit DaemonThread(hv::Hypervisor& hv,
                        app::DaemonConfig config = {kSbdf0005,
                                                    device::stub_factory(device::StubConfig{})},
                        app::DaemonObserver* observer = nullptr) {
    auto d = app::Daemon::start(hv, config, observer);
    if (!d) throw std::runtime_error("daemon failed to start: " + d.error().describe());
    daemon_ = std::move(*d);
    thread_ = std::thread([this] {
      if (Status s = daemon_->run(); !s) {
        std::fprintf(stderr, "daemon's event loop failed: %s\n", s.error().describe().c_str());
        std::abort();
      }
    });
  }
  ~DaemonThread() { stop(); }
  DaemonThread(const DaemonThread&) = delete;
  DaemonThread& operator=(const DaemonThread&) = delete;

  // Stops serving and tears down (the daemon's destructor), as on SIGTERM.
  // Idempotent.
  void stop() {
    if (!daemon_) return;
    pause();
    daemon_.reset();
  }

  // Stops the event loop and keeps the daemon as it is: requests the guest
  // makes from now on wait in their slots, as if the process hung.
  void pause() {
    if (!thread_.joinable()) return;
    daemon_->request_stop();
    thread_.join();
  }

  // Dies as kill -9 leaves things: no teardown (Daemon::abandon()).
  void abandon() {
    if (!daemon_) return;
    pause();
    daemon_->abandon();
    daemon_.reset();
  }

  bool running() const { return daemon_ != nullptr; }
  app::Daemon& daemon() { return *daemon_; }
  const app::Daemon& daemon() const { return *daemon_; }

 private:
  std::unique_ptr<app::Daemon> daemon_;
  std::thread thread_;
};

}  // namespace vgpu::testing
