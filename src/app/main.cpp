// vgpu-ioreqd: a standalone Xen ioreq server for the vGPU stub device
// (docs/spec.md). Parses the command line and serves in two processes: a
// privileged supervisor with XenStore and an unprivileged, sandboxed worker
// with the guest (vgpu/app/split.h).
#include <malloc.h>

#include "vgpu/app/logging.h"
#include "vgpu/app/options.h"
#include "vgpu/app/runner.h"
#include "vgpu/app/split.h"
#include "vgpu/xen/xen_hypervisor.h"
#include "vgpu/xenstore/xs_store.h"

namespace {

using namespace vgpu;

Result<app::SupervisorHandles> open_supervisor(uint16_t domid) {
  auto probe = xen::XenDomainProbe::open(domid);
  if (!probe) return probe.error();
  auto store = xenstore::open_xenstore();
  if (!store) return store.error();
  struct Owned {
    std::unique_ptr<xen::XenDomainProbe> probe;
    std::unique_ptr<xenstore::Store> store;
  };
  auto owned = std::make_shared<Owned>(Owned{std::move(*probe), std::move(*store)});
  return app::SupervisorHandles{owned->store.get(),
                                [p = owned->probe.get()] { return p->domain_info(); }, owned};
}

int run(const app::Options& o) {
  using namespace vgpu::app;
  if (Status s = setup_logging(o.domid, o.log_level, o.log_file); !s)
    return fail(Options{}, kExitUsage, s.error().describe());
  auto user = resolve_worker_user(o.user);
  if (!user) return fail(o, kExitUsage, user.error().describe());
  SplitSetup setup;
  setup.open_supervisor = [&o] { return open_supervisor(o.domid); };
  setup.open_hypervisor = [&o]() -> Result<std::unique_ptr<hv::Hypervisor>> {
    auto hv = xen::XenHypervisor::open(o.domid);
    if (!hv) return hv.error();
    return std::unique_ptr<hv::Hypervisor>(std::move(*hv));
  };
  setup.restrict = [](hv::Hypervisor& hv) {
    return static_cast<xen::XenHypervisor&>(hv).restrict_to_domain();
  };
  setup.user = *user;
  return serve_split(o, stub_device(o), setup);
}

}  // namespace

int main(int argc, char** argv) {
  // One malloc arena for the whole process: the queue's worker thread would
  // otherwise get an arena of its own, resident pages for a thread that
  // allocates next to nothing. One daemon runs per guest; its memory counts.
  mallopt(M_ARENA_MAX, 1);
  using vgpu::app::print_outcome;
  const vgpu::app::ParseOutcome parsed = vgpu::app::parse_options(argc, argv);
  if (!parsed.options) return print_outcome(parsed);
  return run(*parsed.options);
}
