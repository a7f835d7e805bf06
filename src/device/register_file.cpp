#include "vgpu/device/register_file.h"

#include <cstddef>

namespace vgpu::device {

namespace {

constexpr unsigned kMaxAccessSize = 8;

bool valid_access_size(unsigned size) {
  return size >= 1 && size <= kMaxAccessSize;
}

// Byte i of an access, or nullopt when it lies past the register file's
// storage (reserved up to 4 KiB, outside the layout beyond) or would wrap.
std::optional<size_t> storage_index(uint64_t offset, unsigned i) {
  if (offset >= kStorageSize || i >= kStorageSize - offset) return std::nullopt;
  return static_cast<size_t>(offset + i);
}

}  // namespace

uint64_t RegisterFile::read(uint64_t offset, unsigned size) const {
  if (!valid_access_size(size)) return ~uint64_t{0};
  uint64_t v = 0;
  for (unsigned i = 0; i < size; ++i) {
    const auto at = storage_index(offset, i);
    if (!at || access_at(*at) == Access::kReserved) continue;
    v |= uint64_t{bytes_[*at]} << (8 * i);
  }
  return v;
}

std::optional<DeviceStatus> RegisterFile::write(uint64_t offset, unsigned size, uint64_t value) {
  if (!valid_access_size(size)) return std::nullopt;
  bool touched_command = false;
  for (unsigned i = 0; i < size; ++i) {
    const auto at = storage_index(offset, i);
    if (!at || access_at(*at) != Access::kReadWrite) continue;
    bytes_[*at] = static_cast<uint8_t>(value >> (8 * i));
    touched_command |= register_at(*at)->offset == regs::kCommand;
  }
  // All bytes first, then the command: an 8-byte write of COMMAND and STATUS
  // runs the command it stored, and STATUS ends up as the device sets it.
  if (!touched_command) return std::nullopt;
  return execute(load32(regs::kCommand));
}

DeviceStatus RegisterFile::status() const {
  return static_cast<DeviceStatus>(load32(regs::kStatus));
}

uint32_t RegisterFile::load32(uint32_t offset) const {
  uint32_t v = 0;
  for (unsigned i = 0; i < regs::kRegisterWidth; ++i) v |= uint32_t{bytes_[offset + i]} << (8 * i);
  return v;
}

void RegisterFile::store32(uint32_t offset, uint32_t value) {
  for (unsigned i = 0; i < regs::kRegisterWidth; ++i) {
    bytes_[offset + i] = static_cast<uint8_t>(value >> (8 * i));
  }
}

DeviceStatus RegisterFile::execute(uint32_t command) {
  // Commands complete synchronously inside the guest's write, so BUSY is
  // never observable; it stays in the map for future asynchronous commands.
  DeviceStatus result = DeviceStatus::kError;
  switch (static_cast<Command>(command)) {
    case Command::kNop:
      result = DeviceStatus::kDone;
      break;
    case Command::kPing:
      store32(regs::kPingMagicOffset, regs::kPingMagic);
      store32(regs::kPingRequestIdOffset, load32(regs::kRequestId));
      result = DeviceStatus::kDone;
      break;
  }
  store32(regs::kStatus, static_cast<uint32_t>(result));
  return result;
}

}  // namespace vgpu::device
