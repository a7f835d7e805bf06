// What hvmloader's pci_setup and Linux's PCI probe do to a device, as
// sequences of CF8/CFC accesses.
#include "vgpu/sim/sim_guest.h"

#include <algorithm>

#include "sim_internal.h"
#include "vgpu/pci/regs.h"
#include "vgpu/sim/lspci_format.h"

namespace vgpu::sim {

namespace {

constexpr uint16_t kDecodeBits = pci::kCommandMemorySpace | pci::kCommandIoSpace;
// hvmloader routes INTA..D of each slot round-robin over the PCI links,
// which its PCI-ISA bridge maps to these ISA IRQs.
constexpr std::array<uint8_t, 4> kLinkIrq = {5, 10, 11, 5};

pci::Sbdf bus0(unsigned devfn) {
  return pci::Sbdf{0, 0, static_cast<uint8_t>(devfn >> 3), static_cast<uint8_t>(devfn & 7)};
}

uint64_t align_up(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) & ~(alignment - 1);
}

}  // namespace

uint32_t SimGuest::config_read(pci::Sbdf sbdf, uint32_t offset, unsigned size) {
  if (offset >= pci::kLegacyConfigSize) return static_cast<uint32_t>(size_mask(size));
  const uint32_t cf8 = pci::kConfigAddressEnable | uint32_t{sbdf.bus} << 16 |
                       uint32_t{sbdf.device} << 11 | uint32_t{sbdf.function} << 8 | (offset & 0xfc);
  std::lock_guard lock(hv_.guest_config_lock());
  hv_.pio_write(vcpu_, pci::kConfigAddressPort, 4, cf8);
  return hv_.pio_read(vcpu_, static_cast<uint16_t>(pci::kConfigDataPort + (offset & 3)), size);
}

void SimGuest::config_write(pci::Sbdf sbdf, uint32_t offset, unsigned size, uint32_t value) {
  if (offset >= pci::kLegacyConfigSize) return;
  const uint32_t cf8 = pci::kConfigAddressEnable | uint32_t{sbdf.bus} << 16 |
                       uint32_t{sbdf.device} << 11 | uint32_t{sbdf.function} << 8 | (offset & 0xfc);
  std::lock_guard lock(hv_.guest_config_lock());
  hv_.pio_write(vcpu_, pci::kConfigAddressPort, 4, cf8);
  hv_.pio_write(vcpu_, static_cast<uint16_t>(pci::kConfigDataPort + (offset & 3)), size, value);
}

// Writes all ones to the BAR, reads the mask back and restores it; with
// `toggle_decode` decoding is off meanwhile, as Linux does. Returns nullopt
// for an unimplemented BAR.
std::optional<BarInfo> SimGuest::size_bar(pci::Sbdf sbdf, unsigned index, bool toggle_decode) {
  const uint32_t reg = pci::bar_offset(index);
  const auto cmd = static_cast<uint16_t>(config_read(sbdf, pci::kCommand, 2));
  if (toggle_decode && (cmd & kDecodeBits))
    config_write(sbdf, pci::kCommand, 2, cmd & ~kDecodeBits);
  const uint32_t orig = config_read(sbdf, reg, 4);
  config_write(sbdf, reg, 4, ~0u);
  const uint32_t mask = config_read(sbdf, reg, 4);
  config_write(sbdf, reg, 4, orig);
  BarInfo bar{index};
  bar.io = (mask & pci::kBarIoSpace) != 0;
  bar.is_64bit =
      !bar.io && (mask & pci::kBarMemTypeMask) == pci::kBarMemType64 && index + 1 < pci::kBarCount;
  bar.prefetchable = !bar.io && (mask & pci::kBarPrefetchable) != 0;
  uint64_t full_mask = bar.io ? (mask & ~3u) | 0xFFFF0000u : mask & ~pci::kBarMemFlagsMask;
  bar.address = bar.io ? orig & ~3u : orig & ~pci::kBarMemFlagsMask;
  if (bar.is_64bit) {
    const uint32_t orig_hi = config_read(sbdf, reg + 4, 4);
    config_write(sbdf, reg + 4, 4, ~0u);
    full_mask |= uint64_t{config_read(sbdf, reg + 4, 4)} << 32;
    config_write(sbdf, reg + 4, 4, orig_hi);
    bar.address |= uint64_t{orig_hi} << 32;
  } else {
    full_mask |= 0xFFFFFFFF00000000ull;
  }
  if (toggle_decode && (cmd & kDecodeBits)) config_write(sbdf, pci::kCommand, 2, cmd);
  if ((mask & ~pci::kBarMemFlagsMask) == 0 && !bar.is_64bit) return std::nullopt;
  bar.size = ~full_mask + 1;
  if (bar.size == 0) return std::nullopt;
  return bar;
}

std::vector<ScannedDevice> SimGuest::hvmloader_scan() {
  std::vector<ScannedDevice> devices;
  for (unsigned devfn = 0; devfn < 256; ++devfn) {
    const pci::Sbdf sbdf = bus0(devfn);
    const auto vendor = static_cast<uint16_t>(config_read(sbdf, pci::kVendorId, 2));
    const auto device = static_cast<uint16_t>(config_read(sbdf, pci::kDeviceId, 2));
    if (vendor == 0xFFFF && device == 0xFFFF) continue;
    ScannedDevice dev{sbdf, vendor, device};
    dev.class_code = static_cast<uint16_t>(config_read(sbdf, pci::kSubclass, 2));
    const auto cmd = static_cast<uint16_t>(config_read(sbdf, pci::kCommand, 2));
    config_write(sbdf, pci::kCommand, 2, cmd & ~kDecodeBits);
    for (unsigned i = 0; i < pci::kBarCount; ++i) {
      auto bar = size_bar(sbdf, i, false);
      if (!bar) continue;
      dev.bars.push_back(*bar);
      if (bar->is_64bit) ++i;
    }
    dev.interrupt_pin = static_cast<uint8_t>(config_read(sbdf, pci::kInterruptPin, 1));
    devices.push_back(dev);
  }
  assign_bars(devices);
  for (ScannedDevice& dev : devices) finish_device(dev);
  return devices;
}

// Largest BAR first, each aligned to its size, memory from the MMIO hole
// below 4 GiB and I/O from 0xC000; a BAR that does not fit stays at 0.
void SimGuest::assign_bars(std::vector<ScannedDevice>& devices) {
  std::vector<BarInfo*> order;
  for (auto& dev : devices) {
    for (auto& bar : dev.bars) order.push_back(&bar);
  }
  std::stable_sort(order.begin(), order.end(),
                   [](const BarInfo* a, const BarInfo* b) { return a->size > b->size; });
  uint64_t mem = kMmioHoleStart;
  uint64_t io = kIoStart;
  for (BarInfo* bar : order) {
    uint64_t& cursor = bar->io ? io : mem;
    const uint64_t limit = bar->io ? 0x10000 : kMmioHoleEnd;
    const uint64_t base = align_up(cursor, bar->size);
    if (base + bar->size > limit) continue;
    bar->address = base;
    cursor = base + bar->size;
  }
  for (auto& dev : devices) {
    for (const auto& bar : dev.bars) {
      const uint32_t reg = pci::bar_offset(bar.index);
      const uint32_t flags = config_read(dev.sbdf, reg, 4) & (bar.io ? 3u : pci::kBarMemFlagsMask);
      config_write(dev.sbdf, reg, 4, static_cast<uint32_t>(bar.address) | flags);
      if (bar.is_64bit)
        config_write(dev.sbdf, reg + 4, 4, static_cast<uint32_t>(bar.address >> 32));
    }
  }
}

// Interrupt Line from the pin, then decode and bus mastering on.
void SimGuest::finish_device(ScannedDevice& dev) {
  if (dev.interrupt_pin != 0) {
    const unsigned link = ((dev.interrupt_pin - 1u) + dev.sbdf.device) & 3u;
    config_write(dev.sbdf, pci::kInterruptLine, 1, kLinkIrq[link]);
  }
  dev.interrupt_line = static_cast<uint8_t>(config_read(dev.sbdf, pci::kInterruptLine, 1));
  auto cmd = static_cast<uint16_t>(config_read(dev.sbdf, pci::kCommand, 2));
  for (const auto& bar : dev.bars) {
    cmd |= bar.io ? pci::kCommandIoSpace : pci::kCommandMemorySpace;
  }
  cmd |= pci::kCommandBusMaster;
  config_write(dev.sbdf, pci::kCommand, 2, cmd);
  dev.command = static_cast<uint16_t>(config_read(dev.sbdf, pci::kCommand, 2));
}

uint64_t SimGuest::bar_address(pci::Sbdf sbdf, unsigned bar) {
  const uint32_t low = config_read(sbdf, pci::bar_offset(bar), 4);
  uint64_t address = low & ~pci::kBarMemFlagsMask;
  if ((low & pci::kBarMemTypeMask) == pci::kBarMemType64 && bar + 1 < pci::kBarCount) {
    address |= uint64_t{config_read(sbdf, pci::bar_offset(bar + 1), 4)} << 32;
  }
  return address;
}

uint64_t SimGuest::bar_read(pci::Sbdf sbdf, unsigned bar, uint64_t offset, unsigned size) {
  return hv_.mmio_read(vcpu_, bar_address(sbdf, bar) + offset, size);
}

void SimGuest::bar_write(pci::Sbdf sbdf, unsigned bar, uint64_t offset, unsigned size,
                         uint64_t value) {
  hv_.mmio_write(vcpu_, bar_address(sbdf, bar) + offset, size, value);
}

std::string SimGuest::lspci_nnv(pci::Sbdf sbdf) {
  LspciInput input{sbdf};
  for (uint32_t off = 0; off < input.config.size(); off += 4) {
    const uint32_t dword = config_read(sbdf, off, 4);
    for (unsigned i = 0; i < 4; ++i) input.config[off + i] = static_cast<uint8_t>(dword >> (8 * i));
  }
  if (auto it = bar_sizes_.find(sbdf.packed()); it != bar_sizes_.end())
    input.bar_sizes = it->second;
  return format_lspci_nnv(input);
}

}  // namespace vgpu::sim
