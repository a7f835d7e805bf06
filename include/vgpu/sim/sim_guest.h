// SimGuest: the guest's software on one vCPU of a SimHypervisor, doing what
// hvmloader and Linux do to a PCI device, through config mechanism #1
// (CF8/CFC) and BAR MMIO, so that the device model under test sees the same
// sequence of ioreqs it will see from a real guest.
//
// Thread-safety: one SimGuest per thread; several SimGuests on different
// vCPUs of one domain may run at once. Config accesses are serialised by a
// domain-wide lock, as Linux's pci_config_lock serialises CF8/CFC pairs.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "vgpu/pci/sbdf.h"
#include "vgpu/sim/sim_hypervisor.h"

namespace vgpu::sim {

struct BarInfo {
  unsigned index = 0;
  uint64_t address = 0;
  uint64_t size = 0;
  bool io = false;
  bool is_64bit = false;
  bool prefetchable = false;
  friend bool operator==(const BarInfo&, const BarInfo&) = default;
};

// What hvmloader found on bus 0 and what it assigned.
struct ScannedDevice {
  pci::Sbdf sbdf;
  uint16_t vendor_id = 0;
  uint16_t device_id = 0;
  uint16_t class_code = 0;      // base class << 8 | subclass, as hvmloader reads it
  std::vector<BarInfo> bars{};  // implemented BARs, with the addresses assigned
  uint8_t interrupt_pin = 0;
  uint8_t interrupt_line = 0;
  uint16_t command = 0;  // as left at the end of the scan
};

struct Capability {
  uint8_t offset = 0;
  uint8_t id = 0;
  friend bool operator==(const Capability&, const Capability&) = default;
};

// What Linux's probe saw and did.
struct ProbedDevice {
  pci::Sbdf sbdf;
  uint16_t vendor_id = 0;
  uint16_t device_id = 0;
  uint8_t revision = 0;
  uint32_t class_code = 0;  // base << 16 | sub << 8 | prog-if
  uint8_t header_type = 0;
  uint16_t subsystem_vendor_id = 0;
  uint16_t subsystem_id = 0;
  uint8_t interrupt_line = 0;
  uint8_t interrupt_pin = 0;
  std::vector<BarInfo> bars{};
  std::vector<Capability> capabilities{};
  std::string capability_error{};  // empty when the list is well formed
  uint16_t command = 0;            // after enable, set_master and MSI setup
  uint16_t status = 0;
  std::optional<uint8_t> msi_offset{};
  bool msi_enabled = false;  // as read back after enabling
  uint64_t msi_address = 0;  // as read back
  uint16_t msi_data = 0;     // as read back
};

class SimGuest {
 public:
  static constexpr uint64_t kMmioHoleStart = 0xF0000000;  // hvmloader's PCI_MEM_START
  static constexpr uint64_t kMmioHoleEnd = 0xFC000000;    // hvmloader's PCI_MEM_END
  static constexpr uint32_t kIoStart = 0xC000;
  static constexpr uint32_t kMsiAddress = 0xFEE00000;  // LAPIC 0, physical mode
  static constexpr uint16_t kMsiData = 0x0041;         // vector 0x41, fixed, edge

  explicit SimGuest(SimHypervisor& hv, unsigned vcpu = 0) : hv_(hv), vcpu_(vcpu) {}

  // Offsets 0..0xFF through CF8/CFC; larger offsets would need MMCONFIG,
  // which Xen does not forward to ioreq servers, so they read all ones.
  uint32_t config_read(pci::Sbdf sbdf, uint32_t offset, unsigned size);
  void config_write(pci::Sbdf sbdf, uint32_t offset, unsigned size, uint32_t value);

  std::vector<ScannedDevice> hvmloader_scan();
  ProbedDevice linux_probe(pci::Sbdf sbdf);
  // `lspci -nnv` for one device, from config reads; BAR sizes are the ones
  // this guest's linux_probe() found (the kernel's sysfs), omitted before.
  std::string lspci_nnv(pci::Sbdf sbdf);

  // Access to BAR `bar` at `offset`, at the address the BAR holds now (both
  // halves of a 64-bit BAR).
  uint64_t bar_read(pci::Sbdf sbdf, unsigned bar, uint64_t offset, unsigned size);
  void bar_write(pci::Sbdf sbdf, unsigned bar, uint64_t offset, unsigned size, uint64_t value);
  uint64_t bar0_read(pci::Sbdf sbdf, uint64_t offset, unsigned size) {
    return bar_read(sbdf, 0, offset, size);
  }
  void bar0_write(pci::Sbdf sbdf, uint64_t offset, unsigned size, uint64_t value) {
    bar_write(sbdf, 0, offset, size, value);
  }

 private:
  std::optional<BarInfo> size_bar(pci::Sbdf sbdf, unsigned index, bool toggle_decode);
  void assign_bars(std::vector<ScannedDevice>& devices);
  void finish_device(ScannedDevice& dev);
  void walk_capabilities(ProbedDevice& dev);
  void enable_msi(ProbedDevice& dev);
  uint64_t bar_address(pci::Sbdf sbdf, unsigned bar);

  SimHypervisor& hv_;
  unsigned vcpu_;
  std::map<uint32_t, std::array<uint64_t, 6>> bar_sizes_;  // by packed SBDF
};

}  // namespace vgpu::sim
