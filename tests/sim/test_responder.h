// A minimal, correct ioreq server for testing the simulator before the real
// daemon exists: it services one server over the hv seam exactly as the
// daemon must (poll, pending, unmask, READY -> INPROCESS -> IORESP_READY,
// notify) and answers from a small fake vGPU-stub config space and BAR0.
// Test-only code; deliberately simple.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "vgpu/sim/sim_hypervisor.h"

namespace vgpu::sim::testing {

class TestResponder {
 public:
  enum class Mode {
    kCorrect,
    kNeverAnswer,     // sees READY and does nothing
    kStateBackwards,  // INPROCESS, then writes READY back
    kNoNotify,        // answers but never notifies the port
  };

  // Creates, maps and enables a server, binds every vCPU's port with its own
  // event channel handle and claims `sbdf`; BAR0 is claimed and released as
  // the guest programs BAR0 and Memory Space decode.
  TestResponder(SimHypervisor& hv, pci::Sbdf sbdf, Mode mode = Mode::kCorrect,
                uint16_t device_id = 0x1111);
  ~TestResponder();  // stops the thread, then tears down in reverse order

  hv::ServerId id() const { return id_; }
  ioreq_t* page() const { return page_; }
  std::vector<ioreq_t> requests() const;  // every request seen, in order
  void clear_requests();
  // Read a config byte/word directly (test inspection, no ioreq).
  uint32_t config(uint32_t offset, unsigned size) const;

 private:
  void run();
  void serve(hv::Port port);
  void handle(ioreq_t& req);
  uint64_t config_access(const ioreq_t& req);
  void config_write(uint32_t offset, unsigned size, uint32_t value);
  void update_bar_claim();

  SimHypervisor& hv_;
  pci::Sbdf sbdf_;
  Mode mode_;
  std::unique_ptr<SimEventChannels> evtchn_;
  hv::ServerId id_ = 0;
  ioreq_t* page_ = nullptr;
  std::vector<std::pair<hv::Port, unsigned>> ports_;  // local port -> vCPU
  mutable std::mutex mutex_;
  std::array<uint8_t, 256> config_{};
  std::array<uint8_t, 256> wmask_{};
  std::array<uint8_t, 4096> bar0_{};
  std::optional<hv::MmioRange> claimed_;
  std::vector<ioreq_t> seen_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace vgpu::sim::testing
