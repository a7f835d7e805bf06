// PCI configuration-space register offsets and bits (PCI Local Bus 3.0,
// type 0 header), shared by the device, the simulated guest and the tests.
#pragma once

#include <cstdint>

namespace vgpu::pci {

inline constexpr uint32_t kConfigSpaceSize = 0x1000;  // with PCIe extended space
inline constexpr uint32_t kLegacyConfigSize = 0x100;

// Type 0 header.
inline constexpr uint32_t kVendorId = 0x00;
inline constexpr uint32_t kDeviceId = 0x02;
inline constexpr uint32_t kCommand = 0x04;
inline constexpr uint32_t kStatus = 0x06;
inline constexpr uint32_t kRevisionId = 0x08;
inline constexpr uint32_t kClassProgIf = 0x09;  // class code: 0x09 prog-if, 0x0A sub, 0x0B base
inline constexpr uint32_t kSubclass = 0x0A;
inline constexpr uint32_t kBaseClass = 0x0B;
inline constexpr uint32_t kCacheLineSize = 0x0C;
inline constexpr uint32_t kLatencyTimer = 0x0D;
inline constexpr uint32_t kHeaderType = 0x0E;
inline constexpr uint8_t kHeaderTypeNormal = 0x00;  // type 0, single function
inline constexpr uint32_t kBist = 0x0F;
inline constexpr uint32_t kBar0 = 0x10;
inline constexpr unsigned kBarCount = 6;
inline constexpr uint32_t bar_offset(unsigned index) {
  return kBar0 + 4 * index;
}
inline constexpr uint32_t kCardbusCis = 0x28;
inline constexpr uint32_t kSubsystemVendorId = 0x2C;
inline constexpr uint32_t kSubsystemId = 0x2E;
inline constexpr uint32_t kExpansionRom = 0x30;
inline constexpr uint32_t kCapabilitiesPointer = 0x34;
inline constexpr uint32_t kInterruptLine = 0x3C;
inline constexpr uint32_t kInterruptPin = 0x3D;
inline constexpr uint32_t kMinGnt = 0x3E;
inline constexpr uint32_t kMaxLat = 0x3F;
inline constexpr uint32_t kHeaderEnd = 0x40;  // capabilities may start here

// Command register bits.
inline constexpr uint16_t kCommandIoSpace = 1u << 0;
inline constexpr uint16_t kCommandMemorySpace = 1u << 1;
inline constexpr uint16_t kCommandBusMaster = 1u << 2;
inline constexpr uint16_t kCommandSerrEnable = 1u << 8;
inline constexpr uint16_t kCommandIntxDisable = 1u << 10;

// Status register bits.
inline constexpr uint16_t kStatusInterrupt = 1u << 3;
inline constexpr uint16_t kStatusCapabilitiesList = 1u << 4;
inline constexpr uint16_t kStatusMasterDataParity = 1u << 8;
inline constexpr uint16_t kStatusSignaledTargetAbort = 1u << 11;
inline constexpr uint16_t kStatusReceivedTargetAbort = 1u << 12;
inline constexpr uint16_t kStatusReceivedMasterAbort = 1u << 13;
inline constexpr uint16_t kStatusSignaledSystemError = 1u << 14;
inline constexpr uint16_t kStatusDetectedParityError = 1u << 15;
inline constexpr uint16_t kStatusErrorBits =
    kStatusMasterDataParity | kStatusSignaledTargetAbort | kStatusReceivedTargetAbort |
    kStatusReceivedMasterAbort | kStatusSignaledSystemError | kStatusDetectedParityError;

// Memory BAR low bits.
inline constexpr uint32_t kBarIoSpace = 1u << 0;
inline constexpr uint32_t kBarMemTypeMask = 3u << 1;
inline constexpr uint32_t kBarMemType64 = 2u << 1;
inline constexpr uint32_t kBarPrefetchable = 1u << 3;
inline constexpr uint32_t kBarMemFlagsMask = 0xF;

// Capability IDs and the MSI capability layout (64-bit, per-vector mask).
inline constexpr uint8_t kCapIdMsi = 0x05;
inline constexpr uint32_t kMsiControl = 0x02;  // relative to the capability
inline constexpr uint32_t kMsiAddressLow = 0x04;
inline constexpr uint32_t kMsiAddressHigh = 0x08;
inline constexpr uint32_t kMsiData64 = 0x0C;
inline constexpr uint32_t kMsiMask64 = 0x10;
inline constexpr uint32_t kMsiPending64 = 0x14;
inline constexpr uint32_t kMsiCapSize64Masking = 0x18;
inline constexpr uint16_t kMsiControlEnable = 1u << 0;
inline constexpr uint16_t kMsiControlMultipleCapableMask = 7u << 1;
inline constexpr uint16_t kMsiControlMultipleEnableMask = 7u << 4;
inline constexpr uint16_t kMsiControl64Bit = 1u << 7;
inline constexpr uint16_t kMsiControlPerVectorMask = 1u << 8;

// Config mechanism #1 I/O ports.
inline constexpr uint16_t kConfigAddressPort = 0xCF8;
inline constexpr uint16_t kConfigDataPort = 0xCFC;
inline constexpr uint32_t kConfigAddressEnable = 1u << 31;

}  // namespace vgpu::pci
