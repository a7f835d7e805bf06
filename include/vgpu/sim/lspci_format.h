// `lspci -nnv` text for one device, from its first 256 config bytes: a pure
// function, so the format can be tested without a guest.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "vgpu/pci/sbdf.h"

namespace vgpu::sim {

struct LspciInput {
  pci::Sbdf sbdf;
  std::array<uint8_t, 256> config{};
  std::array<uint64_t, 6> bar_sizes{};  // 0: unknown, "[size=...]" omitted
};

// e.g. "00:05.0 Processing accelerators [1200]: Red Hat, Inc. Device
// [1af4:1111] (rev 01)\n\tSubsystem: ...\n\tFlags: ...\n\tMemory at ...\n
// \tCapabilities: [40] MSI: Enable+ Count=1/1 Maskable+ 64bit+\n".
std::string format_lspci_nnv(const LspciInput& input);

}  // namespace vgpu::sim
