// libFuzzer target: arbitrary config-space read/write sequences on the vGPU
// stub's configuration space (VgpuStub over pci::ConfigSpace), any offset
// (including past 4 KiB) and any size (including invalid ones).
//
// Input: 8-byte records: [0] bit 0 write / read, [1] size (0..8), [2..3]
// offset (0..0x1FFF), [4..7] value, little-endian.
//
// Invariants (a violation aborts): reads of 1, 2 and 4 bytes agree with the
// byte-wise reads; the identity and capability list never change; BAR0's
// low bits stay read-only and BAR1-5 read 0; bar_mapping(0) is live exactly when
// Memory Space is on and BAR0 holds a valid address; a write reports a BAR0
// change exactly when bar_mapping(0) changed.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "vgpu/device/vgpu_stub.h"
#include "vgpu/dma/mapping_cache.h"
#include "vgpu/pci/regs.h"
#include "vgpu/sim/sim_guest_memory.h"

namespace vgpu::fuzz {
namespace {

[[noreturn]] void finding(const char* what) {
  std::printf("FUZZ FINDING: %s\n", what);
  std::abort();
}

class CountingMsi final : public pci::MsiSink {
 public:
  void send_msi(uint64_t, uint32_t) override { ++sent; }
  uint64_t sent = 0;
};

class NoStatus final : public pci::StatusSink {
 public:
  void status_changed(std::string_view, std::string_view) override {}
};

// The stub's command queue needs guest memory; config-space sequences only
// reach it through Bus Master, so a small RAM shared by all inputs does.
dma::GuestDma& guest_memory() {
  static sim::SimGuestMemory ram(0x10000);
  static dma::MappingCache cache(ram);
  return cache;
}

void check_bytewise(const device::VgpuStub& stub, uint32_t off, unsigned size) {
  if (size < 1 || size > 4 || off + size > pci::kConfigSpaceSize) return;
  uint32_t bytes = 0;
  for (unsigned i = 0; i < size; ++i) bytes |= stub.config_read(off + i, 1) << (8 * i);
  if (stub.config_read(off, size) != bytes) finding("wide read differs from byte reads");
}

void check_identity(const device::VgpuStub& stub) {
  if (stub.config_read(pci::kVendorId, 4) != 0x11111af4u) finding("vendor/device ID changed");
  if (stub.config_read(pci::kRevisionId, 4) != 0x12000001u) finding("class/revision changed");
  if (stub.config_read(pci::kSubsystemVendorId, 4) != 0x11111af4u) finding("subsystem changed");
  if (stub.config_read(pci::kHeaderType, 1) != 0) finding("header type changed");
  if (stub.config_read(pci::kCapabilitiesPointer, 1) != 0x40u) finding("cap pointer changed");
  if ((stub.config_read(pci::kStatus, 2) & pci::kStatusCapabilitiesList) == 0)
    finding("capabilities list bit cleared");
  if (stub.config_read(0x40, 2) != pci::kCapIdMsi) finding("MSI capability id/next changed");
  if (stub.config_read(pci::kInterruptPin, 1) != 0) finding("interrupt pin changed");
  for (unsigned i = 1; i < pci::kBarCount; ++i) {
    if (stub.config_read(pci::bar_offset(i), 4) != 0) finding("unimplemented BAR is not 0");
  }
  if (stub.config_read(pci::kExpansionRom, 4) != 0) finding("expansion ROM is not 0");
}

void check_bar0(const device::VgpuStub& stub) {
  const uint32_t bar = stub.config_read(pci::kBar0, 4);
  if ((bar & 0xfffu) != 0) finding("BAR0 low bits are not read-only zero");
  const bool decode = (stub.config_read(pci::kCommand, 2) & pci::kCommandMemorySpace) != 0;
  const bool valid = bar != 0 && bar != 0xfffff000u;
  const auto live = stub.bar_mapping(0);
  if (live.has_value() != (decode && valid)) finding("bar_mapping(0) disagrees with Command/BAR0");
  if (live && (live->base != bar || live->size != 4096)) finding("bar_mapping(0) window is wrong");
}

}  // namespace
}  // namespace vgpu::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vgpu;
  fuzz::CountingMsi msi;
  fuzz::NoStatus status;
  device::VgpuStub stub(device::StubConfig{}, {msi, fuzz::guest_memory(), status});
  for (size_t pos = 0; pos + 8 <= size; pos += 8) {
    const uint8_t* r = data + pos;
    const unsigned width = r[1] % 9;
    uint16_t off16 = 0;
    uint32_t value = 0;
    std::memcpy(&off16, r + 2, 2);
    std::memcpy(&value, r + 4, 4);
    const uint32_t off = off16 & 0x1fffu;
    if (r[0] & 1u) {
      const auto before = stub.bar_mapping(0);
      const pci::ConfigWriteEffects fx = stub.config_write(off, width, value);
      if (((fx.bars_changed & 1u) != 0) != (stub.bar_mapping(0) != before))
        fuzz::finding("BAR0 change not reported exactly");
    } else {
      (void)stub.config_read(off, width);
    }
    fuzz::check_bytewise(stub, off, width);
    fuzz::check_identity(stub);
    fuzz::check_bar0(stub);
  }
  return 0;
}
