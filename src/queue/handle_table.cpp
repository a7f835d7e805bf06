#include "vgpu/queue/handle_table.h"

#include <algorithm>

namespace vgpu::queue {

namespace {

constexpr unsigned kGenerationShift = 32;
constexpr uint64_t kIndexMask = 0xFFFFFFFF;

}  // namespace

HandleTable::HandleTable(uint64_t mem_limit, uint64_t granule, uint32_t max_handles)
    : mem_limit_(mem_limit), granule_(granule), max_handles_(max_handles) {}

std::optional<uint64_t> HandleTable::charge_for(uint64_t bytes) const {
  if (bytes == 0 || bytes > mem_limit_) return std::nullopt;
  return (bytes + granule_ - 1) / granule_ * granule_;  // no overflow: bytes <= limit
}

uint64_t HandleTable::insert(uint64_t addr, uint64_t size, uint64_t charged) {
  uint32_t index;
  if (!free_slots_.empty()) {
    index = free_slots_.back();
    free_slots_.pop_back();
  } else {
    index = static_cast<uint32_t>(entries_.size());
    entries_.push_back({});
    entries_.back().generation = generation_floor_;
  }
  HandleEntry& e = entries_[index];
  e.addr = addr;
  e.size = size;
  e.charged = charged;
  e.generation = e.generation + 1 == 0 ? 1 : e.generation + 1;
  e.live = 1;
  charged_ += charged;
  ++live_;
  return uint64_t{e.generation} << kGenerationShift | (uint64_t{index} + 1);
}

const HandleEntry* HandleTable::find(uint64_t handle) const {
  const uint64_t low = handle & kIndexMask;
  if (low == 0 || low > entries_.size()) return nullptr;
  const HandleEntry& e = entries_[low - 1];
  if (!e.live || e.generation != handle >> kGenerationShift) return nullptr;
  return &e;
}

std::optional<HandleEntry> HandleTable::remove(uint64_t handle) {
  const HandleEntry* found = find(handle);
  if (found == nullptr) return std::nullopt;
  HandleEntry& e = entries_[(handle & kIndexMask) - 1];
  HandleEntry copy = e;
  e.live = 0;
  charged_ -= e.charged;
  --live_;
  free_slots_.push_back(static_cast<uint32_t>((handle & kIndexMask) - 1));
  return copy;
}

std::vector<HandleEntry> HandleTable::live_entries() const {
  std::vector<HandleEntry> out;
  for (const HandleEntry& e : entries_) {
    if (e.live) out.push_back(e);
  }
  return out;
}

void HandleTable::clear() {
  // Generations survive, so handles from before stay invalid afterwards.
  free_slots_.clear();
  for (uint32_t i = 0; i < entries_.size(); ++i) {
    entries_[i].live = 0;
    free_slots_.push_back(static_cast<uint32_t>(entries_.size() - 1 - i));
  }
  charged_ = 0;
  live_ = 0;
}

namespace {

struct SavedEntry {
  uint32_t slot = 0;
  uint32_t reserved = 0;
  HandleEntry entry;
};

}  // namespace

void HandleTable::save(StateWriter& out) const {
  uint32_t top_generation = 0;
  for (const HandleEntry& e : entries_) top_generation = std::max(top_generation, e.generation);
  out.put(top_generation);
  out.put(live_);
  for (uint32_t i = 0; i < entries_.size(); ++i)
    if (entries_[i].live) out.put(SavedEntry{i, 0, entries_[i]});
}

vgpu::Status HandleTable::restore(StateReader& in) {
  auto top = in.get<uint32_t>();
  auto live = in.get<uint32_t>();
  if (!top || !live) return Error{EINVAL, "saved handle table truncated"};
  if (*live > max_handles_) return Error{EINVAL, "saved handle table: too many handles"};
  entries_.clear();
  free_slots_.clear();
  charged_ = 0;
  live_ = 0;
  for (uint32_t n = 0; n < *live; ++n) {
    auto saved = in.get<SavedEntry>();
    if (!saved) return Error{EINVAL, "saved handle table truncated"};
    const HandleEntry& e = saved->entry;
    const auto charge = charge_for(e.size);
    if (saved->slot >= max_handles_ || !charge || *charge != e.charged || e.generation == 0 ||
        e.live != 1 || e.charged > mem_limit_ - charged_)
      return Error{EINVAL, "saved handle table: an entry is out of bounds"};
    if (saved->slot >= entries_.size()) entries_.resize(saved->slot + 1);
    if (entries_[saved->slot].live) return Error{EINVAL, "saved handle table: a slot twice"};
    entries_[saved->slot] = e;
    charged_ += e.charged;
    ++live_;
  }
  // Free slots, and slots added later, continue above every generation
  // given before the restart.
  generation_floor_ = *top;
  for (uint32_t i = static_cast<uint32_t>(entries_.size()); i-- > 0;) {
    if (entries_[i].live) continue;
    entries_[i].generation = *top;
    free_slots_.push_back(i);
  }
  return ok_status();
}

}  // namespace vgpu::queue
