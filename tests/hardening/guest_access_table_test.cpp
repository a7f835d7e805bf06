// Guest accesses as tables: every BAR0 register and every config offset at
// every width gets the answer the spec defines, read-only fields ignore
// writes, and nothing crashes or wedges (docs/spec.md §2 and §3).
#include <array>
#include <cstdint>
#include <cstring>

#include "fixture.h"
#include "vgpu/device/registers.h"
#include "vgpu/ioreq/dispatcher.h"
#include "vgpu/pci/regs.h"
#include "vgpu/queue/protocol.h"

namespace vgpu::hardening {
namespace {

namespace regs = device::regs;
using Image = std::array<uint8_t, pci::kConfigSpaceSize>;

void put(Image& img, uint32_t offset, unsigned size, uint32_t value) {
  for (unsigned i = 0; i < size; ++i) img[offset + i] = static_cast<uint8_t>(value >> (8 * i));
}

// Config space at reset, from the spec's table (section 2), not from the
// device's own code: vendor/device, command 0, status = capabilities list,
// revision 1, class 12/00/00, BAR0 32-bit memory at 0, subsystem IDs, cap
// pointer 0x40, interrupt line 0xFF, and an MSI capability (64-bit address,
// per-vector mask, 1 vector) ending the list. Everything else reads 0.
Image reset_config() {
  Image img{};
  put(img, pci::kVendorId, 2, 0x1af4);
  put(img, pci::kDeviceId, 2, 0x1111);
  put(img, pci::kStatus, 2, pci::kStatusCapabilitiesList);
  put(img, pci::kRevisionId, 1, 0x01);
  put(img, pci::kBaseClass, 1, 0x12);
  put(img, pci::kSubsystemVendorId, 2, 0x1af4);
  put(img, pci::kSubsystemId, 2, 0x1111);
  put(img, pci::kCapabilitiesPointer, 1, 0x40);
  put(img, pci::kInterruptLine, 1, 0xff);
  put(img, 0x40, 1, pci::kCapIdMsi);
  put(img, 0x40 + pci::kMsiControl, 2, pci::kMsiControl64Bit | pci::kMsiControlPerVectorMask);
  return img;
}

uint64_t compose(const uint8_t* bytes, unsigned size) {
  uint64_t v = 0;
  std::memcpy(&v, bytes, size);
  return v;
}

using GuestAccessTable = HardeningTest;

TEST_F(GuestAccessTable, EveryConfigOffsetAtEveryWidthReadsTheSpecValue) {
  const Image img = reset_config();
  for (uint32_t off = 0; off < pci::kConfigSpaceSize; ++off) {
    for (unsigned size : {1u, 2u, 4u}) {
      const uint64_t want = off + size <= pci::kConfigSpaceSize
                                ? compose(&img[off], size)
                                : ioreq::all_ones(size);  // past 4 KiB: absent
      // Xen hands the guest only the low `size` bytes of the answer.
      ASSERT_EQ(rig.config_read(off, size) & ioreq::all_ones(size), want)
          << "offset " << off << " size " << size;
    }
  }
  EXPECT_EQ(rig.health(), "");
}

// The same bytes through config mechanism #1 (CF8/CFC), as a guest reads them.
TEST_F(GuestAccessTable, EveryLegacyOffsetThroughCf8Cfc) {
  const Image img = reset_config();
  for (uint32_t off = 0; off < pci::kLegacyConfigSize; ++off) {
    for (unsigned size : {1u, 2u, 4u}) {
      if ((off & 3) + size > 4) continue;  // CFC..CFF cannot express it
      ASSERT_EQ(rig.guest().config_read(kSbdf, off, size), compose(&img[off], size))
          << "offset " << off << " size " << size;
    }
  }
}

struct ConfigWriteRow {
  const char* field;
  uint32_t offset;
  unsigned size;
  uint32_t value;
  uint32_t expect;  // read back at the same offset and size
};

// Writes of all ones (or a pattern) to every field of the header: only the
// bits the spec calls guest-writable change.
constexpr ConfigWriteRow kConfigWrites[] = {
    {"vendor+device ID", 0x00, 4, 0xffffffff, 0x11111af4},
    {"device ID", 0x02, 2, 0x0000, 0x1111},
    {"command: I/O space stays 0", 0x04, 2, 0xffff, 0x0406},
    {"status: RW1C on clear bits, cap list RO", 0x06, 2, 0xffff, 0x0010},
    {"revision+class", 0x08, 4, 0xffffffff, 0x12000001},
    {"cache line size (storage)", 0x0c, 1, 0xab, 0xab},
    {"latency timer", 0x0d, 1, 0xff, 0x00},
    {"header type", 0x0e, 1, 0xff, 0x00},
    {"BIST", 0x0f, 1, 0xff, 0x00},
    {"BAR0 sizing probe", 0x10, 4, 0xffffffff, 0xfffff000},
    {"BAR0 type and low address bits", 0x10, 1, 0xff, 0x00},
    {"BAR0 bits below 4 KiB", 0x10, 2, 0x0fff, 0x0000},
    {"BAR1", 0x14, 4, 0xffffffff, 0},
    {"BAR2", 0x18, 4, 0xffffffff, 0},
    {"BAR3", 0x1c, 4, 0xffffffff, 0},
    {"BAR4", 0x20, 4, 0xffffffff, 0},
    {"BAR5", 0x24, 4, 0xffffffff, 0},
    {"CardBus CIS", 0x28, 4, 0xffffffff, 0},
    {"subsystem IDs", 0x2c, 4, 0xffffffff, 0x11111af4},
    {"expansion ROM", 0x30, 4, 0xffffffff, 0},
    {"capabilities pointer", 0x34, 1, 0x00, 0x40},
    {"reserved 0x35", 0x35, 4, 0xffffffff, 0},
    {"interrupt line (storage)", 0x3c, 1, 0x0b, 0x0b},
    {"interrupt pin", 0x3d, 1, 0x01, 0x00},
    {"min_gnt/max_lat", 0x3e, 2, 0xffff, 0x0000},
    {"MSI capability ID", 0x40, 1, 0x00, pci::kCapIdMsi},
    {"MSI next pointer", 0x41, 1, 0x50, 0x00},
    {"extended space", 0x100, 4, 0xffffffff, 0},
    {"last extended dword", 0xffc, 4, 0xffffffff, 0},
    {"last extended byte", 0xfff, 1, 0xff, 0},
};

TEST_F(GuestAccessTable, WritesToEveryHeaderFieldChangeOnlyWritableBits) {
  for (const ConfigWriteRow& row : kConfigWrites) {
    rig.config_write(row.offset, row.size, row.value);
    EXPECT_EQ(rig.config_read(row.offset, row.size), row.expect) << row.field;
    ASSERT_EQ(rig.health(), "") << row.field;
    // Decoding is on from the command row on: the claim must follow BAR0
    // through 0, the sizing value (neither claimed) and 0xffff0000 (claimed,
    // after the 16-bit write cleared address bits 12-15).
    EXPECT_EQ(rig.claimed(), rig.decoded_window()) << row.field;
  }
  EXPECT_EQ(rig.claimed(), (std::vector<hv::MmioRange>{{0xffff0000, 0xffff0fff}}));
}

TEST_F(GuestAccessTable, MsiControlKeepsItsReadOnlyCapabilityBits) {
  rig.config_write(0x42, 2, 0xffff);
  const uint32_t ctl = rig.config_read(0x42, 2);
  EXPECT_EQ(ctl & (pci::kMsiControl64Bit | pci::kMsiControlPerVectorMask),
            uint32_t{pci::kMsiControl64Bit | pci::kMsiControlPerVectorMask});
  EXPECT_EQ(ctl & pci::kMsiControlMultipleCapableMask, 0u) << "one vector only";
  EXPECT_EQ(ctl & 0xfe00u, 0u) << "reserved control bits";
  EXPECT_EQ(rig.health(), "");
}

// ---- BAR0 registers ----------------------------------------------------

// The BAR0 bytes the sweep below covers: the registers, the reserved gap,
// the end of DATA (whose widest accesses reach into the command queue's
// registers), the reserved tail after the queue and the end of the BAR. The
// queue's own registers have their tests (tests/queue, queue_sim_test).
constexpr std::pair<uint32_t, uint32_t> kBar0Windows[] = {
    {0x004, 0x040}, {0x3e0, 0x400}, {0x478, 0x4a0}, {0xfe0, 0x1000}};

class Bar0Model {
 public:
  // The command queue's registers at reset, read-only to this sweep: an
  // access that is not wholly a queue register's width never writes one.
  Bar0Model() {
    bytes_[queue::qregs::kVersion + 2] = 0x01;     // 0x00010000
    bytes_[queue::qregs::kMaxEntries + 1] = 0x04;  // 1024
    bytes_[queue::qregs::kMemTotal + 3] = 0x10;    // 256 MiB
    bytes_[queue::qregs::kMemFree + 3] = 0x10;
  }
  // What a write does to the model: RW bytes store, the rest ignore it.
  void write(uint32_t off, unsigned size, uint64_t v) {
    for (unsigned i = 0; i < size && off + i < bytes_.size(); ++i) {
      if (device::access_at(off + i) == device::Access::kReadWrite)
        bytes_[off + i] = static_cast<uint8_t>(v >> (8 * i));
    }
  }
  uint64_t read(uint32_t off, unsigned size) const {
    if (off + size > kBar0Size) return ioreq::all_ones(size);  // not all inside BAR0
    return compose(&bytes_[off], size);
  }

 private:
  std::array<uint8_t, kBar0Size> bytes_{};  // STATUS IDLE (0), all zero at reset
};

class Bar0Table : public HardeningTest {
 protected:
  void SetUp() override {
    HardeningTest::SetUp();
    rig.place_bar0(kBar0, true);
  }
  uint64_t read(uint32_t off, unsigned size) { return rig.hv().mmio_read(0, kBar0 + off, size); }
  void write(uint32_t off, unsigned size, uint64_t v) {
    rig.hv().mmio_write(0, kBar0 + off, size, v);
  }
};

// Every byte offset in the windows at widths 1, 2, 4 and 8, written and read
// back against the model; COMMAND (0x000) is left out because a write there
// runs a command (tested below). Accesses running off the end of BAR0 are
// not ours: Xen hands them to the default device model, which answers ones.
TEST_F(Bar0Table, EveryRegisterAtEveryWidthReadsBackAsTheRegisterMapSays) {
  Bar0Model model;
  uint64_t pattern = 0x0807060504030201;
  for (auto [first, end] : kBar0Windows) {
    for (uint32_t off = first; off < end; ++off) {
      for (unsigned size : {1u, 2u, 4u, 8u}) {
        if (off + size <= kBar0Size) {
          write(off, size, pattern);
          model.write(off, size, pattern);
        }
        pattern = pattern * 0x9e3779b97f4a7c15 + 1;
        ASSERT_EQ(read(off, size), model.read(off, size)) << "offset " << off << " size " << size;
      }
    }
  }
  EXPECT_EQ(read(regs::kStatus, 4), uint64_t(device::DeviceStatus::kIdle)) << "STATUS is RO";
  EXPECT_EQ(rig.health(), "");
}

struct CommandRow {
  const char* what;
  unsigned size;
  uint64_t value;
  device::DeviceStatus status;
};

constexpr CommandRow kCommands[] = {
    {"NOP dword", 4, 0x0, device::DeviceStatus::kDone},
    {"PING dword", 4, 0x1, device::DeviceStatus::kDone},
    {"PING byte", 1, 0x1, device::DeviceStatus::kDone},
    {"PING word", 2, 0x1, device::DeviceStatus::kDone},
    {"PING qword (STATUS half dropped)", 8, 0xffffffff'00000001, device::DeviceStatus::kDone},
    {"unknown command 2", 4, 0x2, device::DeviceStatus::kError},
    {"unknown command ~0", 4, 0xffffffff, device::DeviceStatus::kError},
};

TEST_F(Bar0Table, EveryCommandWidthEndsInADefinedStatus) {
  for (const CommandRow& row : kCommands) {
    write(regs::kRequestId, 4, 0x1234);
    write(regs::kCommand, row.size, row.value);
    EXPECT_EQ(read(regs::kStatus, 4), uint64_t(row.status)) << row.what;
    if (row.status == device::DeviceStatus::kDone && (row.value & 0xffffffff) == 1) {
      EXPECT_EQ(read(regs::kPingMagicOffset, 4), regs::kPingMagic) << row.what;
      EXPECT_EQ(read(regs::kPingRequestIdOffset, 4), 0x1234u) << row.what;
    }
    ASSERT_EQ(rig.health(), "") << row.what;
  }
}

}  // namespace
}  // namespace vgpu::hardening
