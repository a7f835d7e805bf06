#include "vgpu/app/state_file.h"

#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "vgpu/app/run_dir.h"
#include "vgpu/compute/crc32c.h"

namespace vgpu::app {

namespace {

constexpr std::array<char, 8> kMagic = {'V', 'G', 'P', 'U', 'S', 'T', 'A', 'T'};
// Bumped whenever the header or any device's saved layout changes: a daemon
// never takes over a state another version wrote (it starts afresh).
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kPage = 4096;

struct Header {
  std::array<char, 8> magic;
  uint32_t version;
  uint32_t sbdf;
  uint16_t domid;
  uint16_t server;
  uint32_t has_server;
  std::array<uint8_t, 16> domain_handle;
};
static_assert(sizeof(Header) <= kPage);

struct SlotHeader {
  uint64_t seq;  // 0: never written; published last, with release
  uint32_t length;
  uint32_t crc;
};
constexpr size_t kSlotStride = kPage + StateFile::kSlotCapacity;  // header page, then data
constexpr size_t kFileSize = kPage + 2 * kSlotStride;

// The mapping is the header's storage (mmap'd memory holds it as an
// implicitly created object).
Header* header_of(std::byte* base) {
  return reinterpret_cast<Header*>(base);
}
SlotHeader* slot_header(std::byte* base, unsigned slot) {
  return reinterpret_cast<SlotHeader*>(base + kPage + slot * kSlotStride);
}
std::byte* slot_data(std::byte* base, unsigned slot) {
  return base + kPage + slot * kSlotStride + kPage;
}
uint64_t load_seq(SlotHeader* h) {
  return std::atomic_ref<uint64_t>(h->seq).load(std::memory_order_acquire);
}

}  // namespace

Result<std::unique_ptr<StateFile>> StateFile::open(int dir_fd, const std::string& name) {
  auto opened = open_own_file(dir_fd, name);
  if (!opened) return opened.error();
  const int fd = *opened;
  auto fail = [fd](Error e) {
    ::close(fd);
    return e;
  };
  if (::ftruncate(fd, kFileSize) != 0) return fail(errno_error("cannot size " + name));
  void* addr = ::mmap(nullptr, kFileSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (addr == MAP_FAILED) return fail(errno_error("cannot map " + name));
  return std::unique_ptr<StateFile>(new StateFile(fd, static_cast<std::byte*>(addr)));
}

StateFile::~StateFile() {
  ::munmap(base_, kFileSize);
  ::close(fd_);
}

std::optional<hv::ServerId> StateFile::server_for(const StateOwner& owner) const {
  Header h;
  std::memcpy(&h, base_, sizeof h);
  if (h.magic != kMagic || h.version != kFormatVersion || h.has_server != 1) return std::nullopt;
  if (h.domid != owner.domid || h.sbdf != owner.sbdf.packed() ||
      h.domain_handle != owner.domain_handle)
    return std::nullopt;
  return h.server;
}

Result<std::vector<std::byte>> StateFile::load() const {
  std::optional<std::vector<std::byte>> best;
  uint64_t best_seq = 0;
  for (unsigned slot = 0; slot < 2; ++slot) {
    SlotHeader* sh = slot_header(base_, slot);
    const uint64_t seq = load_seq(sh);
    if (seq == 0 || seq <= best_seq) continue;
    // Read once into private memory, then check: the file is untrusted.
    const uint32_t length = sh->length;
    const uint32_t crc = sh->crc;
    if (length > kSlotCapacity) continue;
    std::vector<std::byte> bytes(slot_data(base_, slot), slot_data(base_, slot) + length);
    if (compute::crc32c_extend(0, bytes) != crc) continue;
    best = std::move(bytes);
    best_seq = seq;
  }
  if (!best) return Error{ENOENT, "the state file holds no valid save"};
  return std::move(*best);
}

void StateFile::invalidate_slots() {
  for (unsigned slot = 0; slot < 2; ++slot)
    std::atomic_ref<uint64_t>(slot_header(base_, slot)->seq).store(0, std::memory_order_release);
}

void StateFile::reset(const StateOwner& owner) {
  invalidate_slots();
  Header h{};
  h.magic = kMagic;
  h.version = kFormatVersion;
  h.sbdf = owner.sbdf.packed();
  h.domid = owner.domid;
  h.domain_handle = owner.domain_handle;
  std::memcpy(base_, &h, sizeof h);
}

// The id is written before the flag that makes it count, the flag with
// release: a kill between the two must not leave the flag naming a stale
// id (server 0 may be QEMU's, which a failed take-over would destroy).
void StateFile::set_server(hv::ServerId id) {
  Header* h = header_of(base_);
  h->server = id;
  std::atomic_ref<uint32_t>(h->has_server).store(1, std::memory_order_release);
}

void StateFile::forget_server() {
  std::atomic_ref<uint32_t>(header_of(base_)->has_server).store(0, std::memory_order_release);
  invalidate_slots();
}

void StateFile::save(std::span<const std::byte> state) {
  if (state.size() > kSlotCapacity) {
    if (!overflow_logged_)
      spdlog::error("device state of {} bytes exceeds the state file's {}; not saved", state.size(),
                    kSlotCapacity);
    overflow_logged_ = true;
    return;
  }
  const uint64_t seq0 = load_seq(slot_header(base_, 0));
  const uint64_t seq1 = load_seq(slot_header(base_, 1));
  const unsigned slot = seq0 <= seq1 ? 0 : 1;  // the older one
  SlotHeader* sh = slot_header(base_, slot);
  // Unpublish first: a kill during the copy leaves this slot invalid, and
  // the other one (the newest) is what a restart loads.
  std::atomic_ref<uint64_t>(sh->seq).store(0, std::memory_order_release);
  std::memcpy(slot_data(base_, slot), state.data(), state.size());
  sh->length = static_cast<uint32_t>(state.size());
  sh->crc = compute::crc32c_extend(0, state);
  std::atomic_ref<uint64_t>(sh->seq).store(std::max(seq0, seq1) + 1, std::memory_order_release);
  ++saves_;
}

}  // namespace vgpu::app
