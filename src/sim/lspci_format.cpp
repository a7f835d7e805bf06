// The subset of pciutils' `lspci -nnv` output a guest user would look at,
// computed from config bytes alone (sizes come from the kernel, as in sysfs).
#include "vgpu/sim/lspci_format.h"

#include <set>

#include "sim_internal.h"
#include "vgpu/pci/regs.h"

namespace vgpu::sim {

namespace {

class Config {
 public:
  explicit Config(const std::array<uint8_t, 256>& bytes) : b_(bytes) {}
  uint8_t u8(uint32_t off) const { return b_[off & 0xFF]; }
  uint16_t u16(uint32_t off) const { return static_cast<uint16_t>(u8(off) | u8(off + 1) << 8); }
  uint32_t u32(uint32_t off) const { return uint32_t{u16(off)} | uint32_t{u16(off + 2)} << 16; }

 private:
  const std::array<uint8_t, 256>& b_;
};

// A tiny slice of pci.ids (Debian 12).
const char* vendor_name(uint16_t vendor) {
  switch (vendor) {
    case 0x1af4:
      return "Red Hat, Inc.";
    case 0x5853:
      return "XenSource, Inc.";
    case 0x8086:
      return "Intel Corporation";
    default:
      return nullptr;
  }
}

const char* class_name(uint16_t cls) {
  switch (cls) {
    case 0x0300:
      return "VGA compatible controller";
    case 0x0380:
      return "Display controller";
    case 0x0600:
      return "Host bridge";
    case 0x0601:
      return "ISA bridge";
    case 0x1200:
      return "Processing accelerators";
    default:
      break;
  }
  switch (cls >> 8) {  // pciutils falls back to the base class name
    case 0x03:
      return "Display controller";
    case 0x12:
      return "Processing accelerators";
    default:
      return nullptr;
  }
}

// "Red Hat, Inc. Device [1af4:1111]": no device names are known here.
std::string device_name(uint16_t vendor, uint16_t device) {
  const char* v = vendor_name(vendor);
  std::string name = v ? std::string(v) + " Device" : "Device";
  return name + format(" [%04x:%04x]", vendor, device);
}

// pciutils' show_size: the largest unit that divides the size exactly.
std::string size_text(uint64_t size) {
  static const char* const kSuffix[] = {"", "K", "M", "G", "T"};
  if (size == 0) return "";
  unsigned i = 0;
  for (; i < 4 && size % 1024 == 0; ++i) size /= 1024;
  return format(" [size=%llu%s]", static_cast<unsigned long long>(size), kSuffix[i]);
}

std::string header_line(const LspciInput& in, const Config& c) {
  const pci::Sbdf& s = in.sbdf;
  std::string line = s.segment ? format("%04x:", s.segment) : std::string();
  line += format("%02x:%02x.%x ", s.bus, s.device, s.function);
  const uint16_t cls = c.u16(pci::kSubclass);
  const char* name = class_name(cls);
  line += name ? format("%s [%04x]", name, cls) : format("Class [%04x]", cls);
  line += ": " + device_name(c.u16(pci::kVendorId), c.u16(pci::kDeviceId));
  if (uint8_t rev = c.u8(pci::kRevisionId)) line += format(" (rev %02x)", rev);
  if (uint8_t prog_if = c.u8(pci::kClassProgIf)) line += format(" (prog-if %02x)", prog_if);
  return line + "\n";
}

std::string flags_line(const Config& c) {
  const uint16_t cmd = c.u16(pci::kCommand);
  const uint16_t status = c.u16(pci::kStatus);
  std::string line = "\tFlags: ";
  if (cmd & pci::kCommandBusMaster) line += "bus master, ";
  if (status & (1u << 5)) line += "66MHz, ";
  static const char* const kDevsel[] = {"fast", "medium", "slow", "??"};
  line += format("%s devsel", kDevsel[(status >> 9) & 3]);
  if (cmd & pci::kCommandBusMaster) line += format(", latency %u", c.u8(pci::kLatencyTimer));
  const uint8_t pin = c.u8(pci::kInterruptPin);
  const uint8_t irq = c.u8(pci::kInterruptLine);
  if (pin != 0 && irq != 0 && irq != 0xFF) line += format(", IRQ %u", irq);
  return line + "\n";
}

std::string bar_line(const Config& c, uint64_t address, uint32_t flags, uint64_t size) {
  const uint16_t cmd = c.u16(pci::kCommand);
  if (flags & pci::kBarIoSpace) {
    std::string line = "\tI/O ports at ";
    const bool on = (cmd & pci::kCommandIoSpace) != 0;
    line += (address || on) ? format("%04llx", static_cast<unsigned long long>(address))
                            : "<unassigned>";
    if (!on) line += " [disabled]";
    return line + size_text(size) + "\n";
  }
  const bool on = (cmd & pci::kCommandMemorySpace) != 0;
  std::string line = "\tMemory at ";
  line +=
      (address || on) ? format("%08llx", static_cast<unsigned long long>(address)) : "<unassigned>";
  static const char* const kType[] = {"32-bit", "low-1M", "64-bit", "type 3"};
  line += format(" (%s, %sprefetchable)", kType[(flags >> 1) & 3],
                 (flags & pci::kBarPrefetchable) ? "" : "non-");
  if (!on) line += " [disabled]";
  return line + size_text(size) + "\n";
}

std::string bar_lines(const LspciInput& in, const Config& c) {
  std::string out;
  for (unsigned i = 0; i < pci::kBarCount; ++i) {
    const uint32_t flags = c.u32(pci::bar_offset(i));
    const bool io = (flags & pci::kBarIoSpace) != 0;
    uint64_t address = io ? flags & ~3u : flags & ~pci::kBarMemFlagsMask;
    const bool is64 =
        !io && (flags & pci::kBarMemTypeMask) == pci::kBarMemType64 && i + 1 < pci::kBarCount;
    if (is64) address |= uint64_t{c.u32(pci::bar_offset(i + 1))} << 32;
    if (flags != 0 || in.bar_sizes[i] != 0) out += bar_line(c, address, flags, in.bar_sizes[i]);
    if (is64) ++i;
  }
  return out;
}

std::string capability_text(const Config& c, uint8_t pos, uint8_t id) {
  const uint16_t ctrl = c.u16(pos + 2u);
  auto flag = [](bool on) { return on ? '+' : '-'; };
  switch (id) {
    case 0x01:
      return format("Power Management version %u", ctrl & 7u);
    case pci::kCapIdMsi:
      return format("MSI: Enable%c Count=%u/%u Maskable%c 64bit%c",
                    flag(ctrl & pci::kMsiControlEnable), 1u << ((ctrl >> 4) & 7),
                    1u << ((ctrl >> 1) & 7), flag(ctrl & pci::kMsiControlPerVectorMask),
                    flag(ctrl & pci::kMsiControl64Bit));
    case 0x09:
      return format("Vendor Specific Information: Len=%02x", c.u8(pos + 2u));
    case 0x10:
      return format("Express (v%u) Endpoint", ctrl & 0xFu);
    case 0x11:
      return format("MSI-X: Enable%c Count=%u Masked%c", flag(ctrl & 0x8000), (ctrl & 0x7FFu) + 1,
                    flag(ctrl & 0x4000));
    default:
      return format("#%02x [%04x]", id, ctrl);
  }
}

std::string capability_lines(const Config& c) {
  if (!(c.u16(pci::kStatus) & pci::kStatusCapabilitiesList)) return "";
  std::string out;
  std::set<uint8_t> seen;
  for (uint8_t pos = c.u8(pci::kCapabilitiesPointer) & 0xFC; pos != 0;
       pos = c.u8(pos + 1u) & 0xFC) {
    if (!seen.insert(pos).second) return out + "\tCapabilities: <chain looped>\n";
    const uint8_t id = c.u8(pos);
    if (id == 0xFF) return out + format("\tCapabilities: [%02x] <chain broken>\n", pos);
    out += format("\tCapabilities: [%02x] ", pos) + capability_text(c, pos, id) + "\n";
  }
  return out;
}

}  // namespace

std::string format_lspci_nnv(const LspciInput& in) {
  const Config c(in.config);
  std::string out = header_line(in, c);
  const uint16_t ssvid = c.u16(pci::kSubsystemVendorId);
  const uint16_t ssid = c.u16(pci::kSubsystemId);
  if ((ssvid || ssid) && ssvid != 0xFFFF) {
    out += "\tSubsystem: " + device_name(ssvid, ssid) + "\n";
  }
  out += flags_line(c);
  out += bar_lines(in, c);
  out += capability_lines(c);
  return out;
}

}  // namespace vgpu::sim
