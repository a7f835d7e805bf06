// The vGPU stub's BAR0 register map (docs/spec.md §3): offsets, command codes,
// status values and the one table that gives every byte its access rule
// (no magic numbers elsewhere). Anything the table does not list is reserved: it reads
// 0 and ignores writes.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace vgpu::device {

namespace regs {

inline constexpr uint32_t kCommand = 0x000;
inline constexpr uint32_t kStatus = 0x004;
inline constexpr uint32_t kDataOffset = 0x008;
inline constexpr uint32_t kDataLength = 0x00C;
inline constexpr uint32_t kRequestId = 0x010;
inline constexpr uint32_t kReservedStart = 0x014;  // 0x014-0x01F
inline constexpr uint32_t kData = 0x020;
inline constexpr uint32_t kDataEnd = 0x400;  // exclusive; 0x400-0xFFF reserved
inline constexpr uint32_t kDataSize = kDataEnd - kData;
inline constexpr uint32_t kRegisterWidth = 4;

// The layout the spec defines; a larger BAR0 reads 0 beyond it.
inline constexpr uint64_t kLayoutSize = 0x1000;

// PING response, relative to the start of DATA.
inline constexpr uint32_t kPingMagicOffset = kData + 0x0;
inline constexpr uint32_t kPingRequestIdOffset = kData + 0x4;
inline constexpr uint32_t kPingMagic = 0x55504756;  // "VGPU" as little-endian bytes

}  // namespace regs

enum class Command : uint32_t {
  kNop = 0x0,
  kPing = 0x1,
};

enum class DeviceStatus : uint32_t {
  kIdle = 0,
  kBusy = 1,
  kDone = 2,
  kError = 3,
};

enum class Access {
  kReadWrite,  // guest storage
  kReadOnly,   // device-owned: reads the device's value, guest writes dropped
  kReserved,   // reads 0, writes dropped
};

struct RegisterInfo {
  std::string_view name;
  uint32_t offset;
  uint32_t size;
  Access access;
};

// The register map, sorted by offset, non-overlapping.
inline constexpr std::array kRegisterMap = {
    RegisterInfo{"COMMAND", regs::kCommand, regs::kRegisterWidth, Access::kReadWrite},
    RegisterInfo{"STATUS", regs::kStatus, regs::kRegisterWidth, Access::kReadOnly},
    RegisterInfo{"DATA_OFFSET", regs::kDataOffset, regs::kRegisterWidth, Access::kReadWrite},
    RegisterInfo{"DATA_LENGTH", regs::kDataLength, regs::kRegisterWidth, Access::kReadWrite},
    RegisterInfo{"REQUEST_ID", regs::kRequestId, regs::kRegisterWidth, Access::kReadWrite},
    RegisterInfo{"DATA", regs::kData, regs::kDataSize, Access::kReadWrite},
};

// The register holding byte `offset`, or nullopt for reserved space.
constexpr std::optional<RegisterInfo> register_at(uint64_t offset) {
  for (const RegisterInfo& r : kRegisterMap) {
    if (offset >= r.offset && offset < uint64_t{r.offset} + r.size) return r;
  }
  return std::nullopt;
}

constexpr Access access_at(uint64_t offset) {
  const auto r = register_at(offset);
  return r ? r->access : Access::kReserved;
}

// The storage the register file needs: everything up to the last register.
inline constexpr uint32_t kStorageSize = kRegisterMap.back().offset + kRegisterMap.back().size;

static_assert(
    [] {
      for (size_t i = 1; i < kRegisterMap.size(); ++i) {
        if (kRegisterMap[i - 1].offset + kRegisterMap[i - 1].size > kRegisterMap[i].offset) {
          return false;
        }
      }
      return true;
    }(),
    "kRegisterMap must be sorted and non-overlapping");
static_assert(kStorageSize == regs::kDataEnd && kStorageSize <= regs::kLayoutSize);
static_assert(access_at(regs::kReservedStart) == Access::kReserved);
static_assert(access_at(regs::kData - 1) == Access::kReserved);
static_assert(access_at(regs::kDataEnd) == Access::kReserved);

}  // namespace vgpu::device
