// What Linux does when it finds a PCI device and a driver enables it with
// MSI: pci_setup_device (header, BAR sizing with decode off), the capability
// walk, pci_enable_device, pci_set_master and pci_enable_msi.
#include <set>

#include "sim_internal.h"
#include "vgpu/pci/regs.h"
#include "vgpu/sim/sim_guest.h"

namespace vgpu::sim {

namespace {
constexpr unsigned kCapabilityTtl = 48;  // Linux's PCI_FIND_CAP_TTL
}  // namespace

ProbedDevice SimGuest::linux_probe(pci::Sbdf sbdf) {
  ProbedDevice d{sbdf};
  const uint32_t ids = config_read(sbdf, pci::kVendorId, 4);
  d.vendor_id = static_cast<uint16_t>(ids);
  d.device_id = static_cast<uint16_t>(ids >> 16);
  const uint32_t class_rev = config_read(sbdf, pci::kRevisionId, 4);
  d.revision = static_cast<uint8_t>(class_rev);
  d.class_code = class_rev >> 8;
  d.header_type = static_cast<uint8_t>(config_read(sbdf, pci::kHeaderType, 1));
  d.subsystem_vendor_id = static_cast<uint16_t>(config_read(sbdf, pci::kSubsystemVendorId, 2));
  d.subsystem_id = static_cast<uint16_t>(config_read(sbdf, pci::kSubsystemId, 2));
  d.interrupt_pin = static_cast<uint8_t>(config_read(sbdf, pci::kInterruptPin, 1));
  d.interrupt_line = static_cast<uint8_t>(config_read(sbdf, pci::kInterruptLine, 1));
  auto& sizes = bar_sizes_[sbdf.packed()];
  sizes = {};
  for (unsigned i = 0; i < pci::kBarCount; ++i) {
    auto bar = size_bar(sbdf, i, true);
    if (!bar) continue;
    d.bars.push_back(*bar);
    sizes[i] = bar->size;
    if (bar->is_64bit) ++i;
  }
  walk_capabilities(d);

  // pci_enable_device, then pci_set_master.
  auto cmd = static_cast<uint16_t>(config_read(sbdf, pci::kCommand, 2));
  uint16_t want = cmd;
  for (const auto& bar : d.bars) want |= bar.io ? pci::kCommandIoSpace : pci::kCommandMemorySpace;
  if (want != cmd) config_write(sbdf, pci::kCommand, 2, want);
  cmd = static_cast<uint16_t>(config_read(sbdf, pci::kCommand, 2));
  if (!(cmd & pci::kCommandBusMaster))
    config_write(sbdf, pci::kCommand, 2, cmd | pci::kCommandBusMaster);

  if (d.msi_offset) enable_msi(d);
  d.command = static_cast<uint16_t>(config_read(sbdf, pci::kCommand, 2));
  d.status = static_cast<uint16_t>(config_read(sbdf, pci::kStatus, 2));
  return d;
}

// Follows the list from 0x34 like Linux (dword-aligned pointers, at most
// 48 entries, ID 0xFF ends it) and also reports what a careful driver
// author would call malformed: a loop, a pointer into the header, or the
// Capabilities List status bit set with a null pointer.
void SimGuest::walk_capabilities(ProbedDevice& d) {
  d.status = static_cast<uint16_t>(config_read(d.sbdf, pci::kStatus, 2));
  if (!(d.status & pci::kStatusCapabilitiesList)) return;
  auto pos = static_cast<uint8_t>(config_read(d.sbdf, pci::kCapabilitiesPointer, 1));
  if (pos == 0) {
    d.capability_error = "Capabilities List bit set but the pointer at 0x34 is 0";
    return;
  }
  std::set<uint8_t> seen;
  for (unsigned ttl = kCapabilityTtl; pos != 0; --ttl) {
    if (ttl == 0) {
      d.capability_error = "more than 48 capabilities";
      return;
    }
    if (pos < pci::kHeaderEnd) {
      d.capability_error = format("capability pointer %#x points into the header", pos);
      return;
    }
    pos &= 0xFC;
    if (!seen.insert(pos).second) {
      d.capability_error = format("capability list loops back to %#x", pos);
      return;
    }
    const auto entry = static_cast<uint16_t>(config_read(d.sbdf, pos, 2));
    const auto id = static_cast<uint8_t>(entry);
    if (id == 0xFF) break;
    d.capabilities.push_back({pos, id});
    if (id == pci::kCapIdMsi && !d.msi_offset) d.msi_offset = pos;
    pos = static_cast<uint8_t>(entry >> 8);
  }
}

// pci_enable_msi with one vector: disable, mask the vector, program address
// and data, disable INTx, set the enable bit (one vector), then unmask as
// request_irq does.
void SimGuest::enable_msi(ProbedDevice& d) {
  const uint32_t cap = *d.msi_offset;
  const auto ctrl = static_cast<uint16_t>(config_read(d.sbdf, cap + pci::kMsiControl, 2));
  config_write(d.sbdf, cap + pci::kMsiControl, 2, ctrl & ~pci::kMsiControlEnable);
  const bool is64 = (ctrl & pci::kMsiControl64Bit) != 0;
  const bool maskable = (ctrl & pci::kMsiControlPerVectorMask) != 0;
  const uint32_t data_off = cap + (is64 ? pci::kMsiData64 : pci::kMsiAddressHigh);
  const uint32_t mask_off = cap + (is64 ? pci::kMsiMask64 : pci::kMsiData64);
  if (maskable) config_write(d.sbdf, mask_off, 4, 1);
  config_write(d.sbdf, cap + pci::kMsiAddressLow, 4, kMsiAddress);
  if (is64) config_write(d.sbdf, cap + pci::kMsiAddressHigh, 4, 0);
  config_write(d.sbdf, data_off, 2, kMsiData);
  const auto cmd = static_cast<uint16_t>(config_read(d.sbdf, pci::kCommand, 2));
  config_write(d.sbdf, pci::kCommand, 2, cmd | pci::kCommandIntxDisable);
  const uint16_t enabled = (ctrl & ~pci::kMsiControlMultipleEnableMask) | pci::kMsiControlEnable;
  config_write(d.sbdf, cap + pci::kMsiControl, 2, enabled);
  if (maskable) config_write(d.sbdf, mask_off, 4, 0);

  const auto now = static_cast<uint16_t>(config_read(d.sbdf, cap + pci::kMsiControl, 2));
  d.msi_enabled = (now & pci::kMsiControlEnable) != 0;
  d.msi_address = config_read(d.sbdf, cap + pci::kMsiAddressLow, 4);
  if (is64) d.msi_address |= uint64_t{config_read(d.sbdf, cap + pci::kMsiAddressHigh, 4)} << 32;
  d.msi_data = static_cast<uint16_t>(config_read(d.sbdf, data_off, 2));
}

}  // namespace vgpu::sim
