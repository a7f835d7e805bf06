// vgpu-ioreqd: a standalone Xen ioreq server for the vGPU stub device
// (docs/spec.md). Parses the command line, opens Xen and XenStore, serves.
#include <malloc.h>

#include "vgpu/app/logging.h"
#include "vgpu/app/options.h"
#include "vgpu/app/runner.h"
#include "vgpu/xen/xen_hypervisor.h"
#include "vgpu/xenstore/xs_store.h"

namespace {

int run(const vgpu::app::Options& o) {
  using namespace vgpu::app;
  if (vgpu::Status s = setup_logging(o.domid, o.log_level, o.log_file); !s)
    return fail(Options{}, kExitUsage, s.error().describe());
  auto hv = vgpu::xen::XenHypervisor::open(o.domid);
  if (!hv) return fail(o, kExitUsage, hv.error().describe());
  auto store = vgpu::xenstore::open_xenstore();
  if (!store) return fail(o, kExitUsage, store.error().describe());
  return serve(**hv, **store, o, stub_device(o));
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
