// The command queue's guest interface, queue interface 1.0 (docs/spec.md
// Part II): register offsets inside BAR0, register bits, fatal reasons, ring
// entry layouts, status codes, opcodes and limits. Nothing here is ours to
// choose; it is the contract a guest driver is written against.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace vgpu::queue {

static_assert(std::endian::native == std::endian::little,
              "ring entries are little-endian and copied as host structs");

namespace qregs {
inline constexpr uint32_t kWindowStart = 0x400;
inline constexpr uint32_t kWindowEnd = 0x480;  // exclusive; 0x480-0xFFF stay reserved
inline constexpr uint32_t kVersion = 0x400;
inline constexpr uint32_t kCtrl = 0x404;
inline constexpr uint32_t kStatus = 0x408;
inline constexpr uint32_t kMaxEntries = 0x40C;
inline constexpr uint32_t kSqBase = 0x410;  // 8 bytes
inline constexpr uint32_t kCqBase = 0x418;  // 8 bytes
inline constexpr uint32_t kSqEntries = 0x420;
inline constexpr uint32_t kCqEntries = 0x424;
inline constexpr uint32_t kSqTail = 0x428;  // doorbell
inline constexpr uint32_t kCqHead = 0x42C;  // doorbell
inline constexpr uint32_t kSqHead = 0x430;
inline constexpr uint32_t kCompletions = 0x434;
inline constexpr uint32_t kMemTotal = 0x438;  // 8 bytes
inline constexpr uint32_t kMemFree = 0x440;   // 8 bytes
inline constexpr uint32_t kReservedStart = 0x448;
inline constexpr uint32_t kRegisterWidth = 4;
inline constexpr uint32_t kWideRegisterWidth = 8;
}  // namespace qregs

inline constexpr uint32_t kQueueVersion = 0x00010000;  // major 1, minor 0
inline constexpr uint32_t kCtrlEnable = 1u << 0;
inline constexpr uint32_t kStatusReady = 1u << 0;
inline constexpr uint32_t kStatusFatal = 1u << 1;
inline constexpr unsigned kFatalReasonShift = 8;

enum class FatalReason : uint8_t {
  kNone = 0,
  kBadBase = 1,          // 0 or not 4 KiB aligned
  kBadSize = 2,          // entries not a power of two in range, or CQ < SQ
  kRingNotMappable = 3,  // a ring's guest memory cannot be mapped
  kDoorbellRange = 4,    // a doorbell value >= the ring's size
  kBusMasterOff = 5,     // Command.Bus Master cleared while enabled
  kCqHeadAhead = 6,      // CQ_HEAD releases a completion not yet posted
};

inline constexpr uint32_t kMaxRingEntries = 1024;  // QUEUE_MAX_ENTRIES
inline constexpr uint32_t kMinRingEntries = 2;
inline constexpr uint64_t kRingAlignment = 4096;

enum class Status : uint16_t {
  kSuccess = 0,
  kInvalidOpcode = 1,
  kInvalidField = 2,
  kInvalidAddress = 3,
  kNoMemory = 4,
  kInvalidHandle = 5,
  kOutOfRange = 6,
  kAborted = 7,
};
const char* to_string(Status status);

enum class Opcode : uint8_t {
  kNop = 0x00,
  kPing = 0x01,
  kAlloc = 0x10,
  kFree = 0x11,
  kWrite = 0x12,  // guest -> device
  kRead = 0x13,   // device -> guest
  kFill = 0x20,
  kCopy = 0x21,
  kSaxpy = 0x22,
  kCrc32c = 0x23,
};

inline constexpr unsigned kArgs = 7;

struct SubmissionEntry {
  uint8_t opcode;
  uint8_t flags;      // must be 0
  uint16_t reserved;  // must be 0
  uint32_t command_id;
  uint64_t arg[kArgs];
};
static_assert(sizeof(SubmissionEntry) == 64 && std::is_trivially_copyable_v<SubmissionEntry>);
static_assert(offsetof(SubmissionEntry, command_id) == 4 && offsetof(SubmissionEntry, arg) == 8);

struct CompletionEntry {
  uint64_t result;
  uint32_t command_id;
  uint16_t sq_head;
  uint16_t status_phase;  // bit 0 phase, bits 15:1 status
};
static_assert(sizeof(CompletionEntry) == 16 && std::is_trivially_copyable_v<CompletionEntry>);
static_assert(offsetof(CompletionEntry, sq_head) == 12);
// sq_head and status_phase form the entry's last dword, which is stored
// last (release) so a guest that sees the new phase sees the whole entry.
inline constexpr size_t kCompletionTailOffset = 12;

inline constexpr uint16_t status_phase(Status status, bool phase) {
  return static_cast<uint16_t>(static_cast<uint16_t>(status) << 1 | (phase ? 1 : 0));
}

struct ScatterEntry {
  uint64_t guest_address;
  uint32_t length;
  uint32_t reserved;  // must be 0
};
static_assert(sizeof(ScatterEntry) == 16 && std::is_trivially_copyable_v<ScatterEntry>);

inline constexpr uint64_t kMaxScatterEntries = 1024;
inline constexpr uint64_t kMaxTransferBytes = 64ull << 20;
inline constexpr uint32_t kMaxHandles = 4096;
inline constexpr uint64_t kDefaultMemLimit = 256ull << 20;
// A command that moves or computes over this many bytes must not hold the
// vCPU that rang the doorbell: it runs after the doorbell write is answered.
inline constexpr uint64_t kInlineLimitBytes = 64ull << 10;

}  // namespace vgpu::queue
