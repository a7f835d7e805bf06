#include "sim_demo.h"

#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>

#include "queue_session.h"
#include "vgpu/app/runner.h"
#include "vgpu/device/registers.h"
#include "vgpu/sim/sim_guest.h"
#include "vgpu/sim/sim_hypervisor.h"
#include "vgpu/xenstore/fake_store.h"

namespace vgpu::demo {
namespace {

using app::fail;
using app::kExitOk;
using app::kExitRuntime;

namespace regs = device::regs;

// The guest's side of the demo; returns true if everything checked out.
bool run_guest(sim::SimHypervisor& hv, pci::Sbdf sbdf) {
  sim::SimGuest guest(hv, 0);
  const auto scanned = guest.hvmloader_scan();
  for (const auto& dev : scanned)
    std::printf("hvmloader: %s %04x:%04x\n", dev.sbdf.to_string().c_str(), dev.vendor_id,
                dev.device_id);
  const sim::ProbedDevice probed = guest.linux_probe(sbdf);
  std::printf("\n$ lspci -nnv -s %s\n%s\n", sbdf.to_string().substr(5).c_str(),
              guest.lspci_nnv(sbdf).c_str());

  const uint32_t request_id = 0x5eed1234;
  hv.clear_calls();
  guest.bar0_write(sbdf, regs::kRequestId, 4, request_id);
  guest.bar0_write(sbdf, regs::kCommand, 4, static_cast<uint32_t>(device::Command::kPing));
  const auto status = guest.bar0_read(sbdf, regs::kStatus, 4);
  const auto magic = guest.bar0_read(sbdf, regs::kPingMagicOffset, 4);
  const auto echoed = guest.bar0_read(sbdf, regs::kPingRequestIdOffset, 4);
  unsigned msis = 0;
  for (const auto& call : hv.calls()) msis += call.kind == sim::SimCallKind::kInjectMsi;

  const bool ping_ok = status == static_cast<uint32_t>(device::DeviceStatus::kDone) &&
                       magic == regs::kPingMagic && echoed == request_id;
  std::printf("PING: STATUS=%llu (%s) id-word=%#llx REQUEST_ID echoed=%#llx MSIs=%u -> %s\n",
              static_cast<unsigned long long>(status), status == 2 ? "DONE" : "not DONE",
              static_cast<unsigned long long>(magic), static_cast<unsigned long long>(echoed), msis,
              ping_ok ? "ok" : "FAILED");

  const bool queue_ok = run_queue_session(hv, guest, sbdf);
  const auto violations = hv.violations();
  for (const auto& v : violations) std::printf("protocol violation: %s\n", v.c_str());
  std::fflush(stdout);
  return ping_ok && queue_ok && probed.msi_enabled && msis == 1 && violations.empty();
}

// What `xenstore-ls <root>` prints: one `name = "value"` line per node,
// children indented by one space per level.
void print_tree(xenstore::Store& store, const std::string& path, int depth) {
  auto children = store.list(path);
  if (!children) return;
  for (const std::string& name : *children) {
    const std::string child = path + "/" + name;
    auto value = store.read(child);
    std::printf("%*s%s = \"%s\"\n", depth, "", name.c_str(), value ? value->c_str() : "");
    print_tree(store, child, depth + 1);
  }
}

}  // namespace

int run_simulation(const app::Options& o, unsigned vcpus) {
  sim::SimConfig config;
  config.domid = o.domid;
  config.vcpus = vcpus;
  sim::SimHypervisor hv(config);
  xenstore::FakeStore store;

  // The guest thread says it is done through this eventfd, which outlives
  // the daemon, so the thread never touches a daemon being torn down.
  const int done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (done_fd < 0) return fail(o, kExitRuntime, "cannot create eventfd");
  std::atomic<bool> guest_ok{false};
  std::thread guest;

  app::ServeHooks hooks;
  hooks.on_ready = [&](app::Daemon& d) {
    d.loop().add(done_fd, [&d, &store] {
      std::printf("\n$ xenstore-ls /local/domain/0/backend/vgpu\n");
      print_tree(store, "/local/domain/0/backend/vgpu", 0);
      std::fflush(stdout);
      d.request_stop();
      return Status{};
    });
    guest = std::thread([&] {
      guest_ok = run_guest(hv, o.sbdf);
      const uint64_t one = 1;
      [[maybe_unused]] ssize_t n = write(done_fd, &one, sizeof one);
    });
  };
  hooks.after_teardown = [&] {
    if (guest.joinable()) guest.join();
  };
  int rc = app::serve(hv, store, o, app::stub_device(o), hooks);
  close(done_fd);
  if (rc == kExitOk && !guest_ok) {
    spdlog::error("the simulated guest did not see the device as specified");
    rc = kExitRuntime;
  }
  return rc;
}

}  // namespace vgpu::demo
