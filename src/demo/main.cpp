// vgpu-sim: runs vgpu-ioreqd's daemon against the built-in simulated Xen
// with a scripted guest (see sim_demo.h). Demo and test equipment: it is not
// installed with the daemon.
#include "sim_demo.h"
#include "vgpu/abi/ioreq.h"
#include "vgpu/app/logging.h"
#include "vgpu/app/options.h"
#include "vgpu/app/runner.h"

int main(int argc, char** argv) {
  using namespace vgpu::app;
  unsigned vcpus = 1;
  const ExtraOption extra[] = {
      {"--vcpus", "vCPUs of the simulated guest (one ioreq slot each)", &vcpus, 1,
       vgpu::abi::kMaxVcpus},
  };
  const ParseOutcome parsed =
      parse_options(argc, argv, "vgpu-sim",
                    "vgpu-ioreqd's daemon against a simulated Xen, with a scripted guest", extra);
  if (!parsed.options) return print_outcome(parsed);
  const Options& o = *parsed.options;
  if (vgpu::Status s = setup_logging(o.domid, o.log_level, o.log_file); !s)
    return fail(o, kExitUsage, s.error().describe());
  return vgpu::demo::run_simulation(o, vcpus);
}
