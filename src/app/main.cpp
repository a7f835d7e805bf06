// vgpu-ioreqd: a standalone Xen ioreq server for the vGPU stub device.
// See ../../shared/spec/device.md and README.md.
#include <cstdio>

#include "vgpu/app/options.h"
#include "vgpu/app/runner.h"

int main(int argc, char** argv) {
  const vgpu::app::ParseOutcome parsed = vgpu::app::parse_options(argc, argv);
  if (!parsed.options) {
    FILE* to = parsed.exit_code == 0 ? stdout : stderr;
    std::fputs(parsed.output.c_str(), to);
    if (!parsed.output.empty() && parsed.output.back() != '\n') std::fputc('\n', to);
    return parsed.exit_code;
  }
  return vgpu::app::run(*parsed.options);
}
