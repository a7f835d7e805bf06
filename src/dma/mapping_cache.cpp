#include "vgpu/dma/mapping_cache.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <limits>

namespace vgpu::dma {

namespace {

constexpr uint64_t kPage = hv::GuestMemory::kPageSize;
constexpr unsigned kShift = hv::GuestMemory::kPageShift;
// After an eviction pass, idle mappings are down to this share of the
// bound, so that a full cache does not scan its batches on every miss.
constexpr uint64_t kEvictToNumerator = 3;
constexpr uint64_t kEvictToDenominator = 4;

// Sessions open on this thread: invalidate() must not wait for its own.
thread_local int t_open_sessions = 0;

Status check_range(const GuestRange& r) {
  if (r.len != 0 && r.gpa > std::numeric_limits<uint64_t>::max() - (r.len - 1))
    return Error{EINVAL, fmt::format("guest range {:#x} + {} bytes wraps around", r.gpa, r.len)};
  return ok_status();
}

uint64_t first_gfn(const GuestRange& r) {
  return r.gpa >> kShift;
}
uint64_t last_gfn(const GuestRange& r) {
  return (r.gpa + r.len - 1) >> kShift;
}

// Frames `ranges` touch, counted with repeats; E2BIG past `limit`, so that no
// guest-supplied length can make a lookup loop run away.
Result<uint64_t> frame_count(std::span<const GuestRange> ranges, uint64_t limit) {
  uint64_t total = 0;
  for (const GuestRange& r : ranges) {
    if (Status s = check_range(r); !s) return s.error();
    if (r.len == 0) continue;
    total += last_gfn(r) - first_gfn(r) + 1;
    if (total > limit) return Error{E2BIG, fmt::format("more than {} guest frames at once", limit)};
  }
  return total;
}

}  // namespace

// ---- DmaSession / GuestDma helpers ----

Status DmaSession::read(uint64_t gpa, std::span<std::byte> out) {
  const GuestRange r{gpa, out.size()};
  size_t at = 0;
  return visit({&r, 1}, Direction::kFromGuest, [&](std::span<std::byte> p) {
    std::memcpy(out.data() + at, p.data(), p.size());
    at += p.size();
  });
}

Status DmaSession::write(uint64_t gpa, std::span<const std::byte> in) {
  const GuestRange r{gpa, in.size()};
  size_t at = 0;
  return visit({&r, 1}, Direction::kToGuest, [&](std::span<std::byte> p) {
    std::memcpy(p.data(), in.data() + at, p.size());
    at += p.size();
  });
}

Status GuestDma::read(uint64_t gpa, std::span<std::byte> out) {
  return session()->read(gpa, out);
}

Status GuestDma::write(uint64_t gpa, std::span<const std::byte> in) {
  return session()->write(gpa, in);
}

// ---- the session ----

class CacheSession final : public DmaSession {
 public:
  explicit CacheSession(MappingCache& cache) : c_(cache) { ++t_open_sessions; }
  ~CacheSession() override {
    {
      std::lock_guard lock(c_.mu_);
      if (!dirty_.empty()) c_.mark_dirty_locked(dirty_);
      c_.release_locked(held_);
    }
    c_.released_.notify_all();
    --t_open_sessions;
  }
  CacheSession(const CacheSession&) = delete;
  CacheSession& operator=(const CacheSession&) = delete;

  Result<std::byte*> ring(RingId id) override {
    std::lock_guard lock(c_.mu_);
    return c_.ring_locked(id, held_);
  }

  void ring_written(RingId id, uint64_t offset, uint64_t len) override {
    if (len == 0) return;
    std::lock_guard lock(c_.mu_);
    auto it = c_.rings_.find(id);
    if (it == c_.rings_.end() || offset >= it->second.range.len) return;
    const uint64_t gpa = it->second.range.gpa + offset;
    add_dirty(gpa >> kShift, (gpa + std::min(len, it->second.range.len - offset) - 1) >> kShift);
  }

  Status prefetch(std::span<const GuestRange> ranges) override {
    std::vector<uint32_t> held;
    Status st;
    {
      std::lock_guard lock(c_.mu_);
      st = c_.map_missing_locked(ranges, held);
      if (st) st = c_.resolve_locked(ranges, held, nullptr);
      c_.release_locked(held);
    }
    c_.released_.notify_all();
    return st;
  }

  Status visit(std::span<const GuestRange> ranges, Direction dir, const PieceFn& fn) override {
    pieces_.clear();
    {
      std::lock_guard lock(c_.mu_);
      if (Status s = c_.map_missing_locked(ranges, held_); !s) return s;
      if (Status s = c_.resolve_locked(ranges, held_, &pieces_); !s) return s;
    }
    for (const MappingCache::Piece& p : pieces_) {
      fn(std::span<std::byte>(p.host, p.len));
      if (dir == Direction::kToGuest) add_dirty(p.gpa >> kShift, (p.gpa + p.len - 1) >> kShift);
    }
    return ok_status();
  }

 private:
  void add_dirty(uint64_t first, uint64_t last) {
    if (!dirty_.empty()) {
      hv::DirtyExtent& back = dirty_.back();
      const uint64_t end = back.first_gfn + back.count;
      if (first >= back.first_gfn && first <= end) {
        back.count = std::max(end, last + 1) - back.first_gfn;
        return;
      }
    }
    dirty_.push_back({first, last - first + 1});
  }

  MappingCache& c_;
  std::vector<uint32_t> held_;
  std::vector<hv::DirtyExtent> dirty_;
  std::vector<MappingCache::Piece> pieces_;
};

// ---- the cache ----

MappingCache::MappingCache(hv::GuestMemory& memory, CacheLimits limits)
    : memory_(memory), limits_(limits) {}

MappingCache::~MappingCache() {
  std::lock_guard lock(mu_);
  std::vector<uint32_t> ids;
  for (const auto& [id, b] : batches_) ids.push_back(id);
  for (uint32_t id : ids) unmap_locked(id);
}

std::unique_ptr<DmaSession> MappingCache::session() {
  return std::make_unique<CacheSession>(*this);
}

CacheStats MappingCache::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

Result<RingId> MappingCache::pin_ring(GuestRange range) {
  if (Status s = check_range(range); !s) return s.error();
  if (range.len == 0) return Error{EINVAL, "an empty ring"};
  if (last_gfn(range) - first_gfn(range) + 1 > limits_.max_batch_frames)
    return Error{E2BIG, "ring larger than one mapping batch"};
  std::lock_guard lock(mu_);
  RingId id = next_ring_++;
  rings_[id] = Ring{range, std::nullopt};
  std::vector<uint32_t> held;
  auto at = ring_locked(id, held);
  release_locked(held);
  if (!at) {
    rings_.erase(id);
    return at.error();
  }
  return id;
}

void MappingCache::unpin_ring(RingId id) {
  std::lock_guard lock(mu_);
  auto it = rings_.find(id);
  if (it == rings_.end()) return;
  if (it->second.batch) doom_locked(*it->second.batch);
  rings_.erase(it);
}

void MappingCache::invalidate() {
  std::unique_lock lock(mu_);
  ++stats_.invalidations;
  for (auto& [id, ring] : rings_) ring.batch.reset();
  std::vector<uint32_t> ids;
  for (const auto& [id, b] : batches_) ids.push_back(id);
  for (uint32_t id : ids) doom_locked(id);
  index_.clear();
  if (t_open_sessions > 0) {
    // A caller bug, not a guest's: waiting would deadlock on ourselves.
    spdlog::error("mapping cache invalidated with a session open on the same thread");
    return;
  }
  released_.wait(lock, [this] { return doomed_live_ == 0; });
}

Result<uint32_t> MappingCache::map_locked(std::span<const uint64_t> gfns, bool index,
                                          bool all_or_nothing) {
  std::vector<int> errors(gfns.size());
  ++stats_.map_calls;
  auto base = memory_.map_frames(gfns, errors);
  if (!base) {
    return Error{EFAULT, fmt::format("guest frames from gfn {:#x} are not mappable: {}",
                                     gfns.front(), base.error().describe())};
  }
  while (next_batch_ == 0 || batches_.count(next_batch_) != 0) ++next_batch_;
  const uint32_t id = next_batch_++;
  Batch& b = batches_[id];
  b.base = *base;
  b.frames = static_cast<uint32_t>(gfns.size());
  stats_.frames_mapped += gfns.size();
  std::optional<uint64_t> bad;
  for (size_t i = 0; i < gfns.size(); ++i) {
    if (errors[i] != 0) {
      if (!bad) bad = gfns[i];
      continue;
    }
    if (!index) continue;
    index_[gfns[i]] = Slot{id, static_cast<uint32_t>(i)};
    b.indexed.push_back(gfns[i]);
  }
  if (bad && all_or_nothing) {
    unmap_locked(id);
    return Error{EFAULT, fmt::format("guest frame {:#x} is not mappable", *bad)};
  }
  return id;
}

Status MappingCache::map_missing_locked(std::span<const GuestRange> ranges,
                                        std::vector<uint32_t>& held) {
  if (auto n = frame_count(ranges, limits_.max_frames); !n) return n.error();
  std::vector<uint64_t> missing;
  for (const GuestRange& r : ranges) {
    if (r.len == 0) continue;
    for (uint64_t gfn = first_gfn(r); gfn <= last_gfn(r); ++gfn) {
      if (index_.count(gfn) == 0) {
        missing.push_back(gfn);
      } else {
        ++stats_.hits;
      }
    }
  }
  std::sort(missing.begin(), missing.end());
  missing.erase(std::unique(missing.begin(), missing.end()), missing.end());
  stats_.misses += missing.size();
  for (size_t at = 0; at < missing.size(); at += limits_.max_batch_frames) {
    const size_t n = std::min<size_t>(limits_.max_batch_frames, missing.size() - at);
    auto id = map_locked(std::span(missing).subspan(at, n), true, false);
    if (!id) return id.error();
    acquire_locked(*id, held);
  }
  evict_locked();
  return ok_status();
}

Status MappingCache::resolve_locked(std::span<const GuestRange> ranges, std::vector<uint32_t>& held,
                                    std::vector<Piece>* pieces) {
  uint32_t last_batch = 0;
  for (const GuestRange& r : ranges) {
    for (uint64_t gpa = r.gpa, left = r.len; left != 0;) {
      const uint64_t in_page = gpa & (kPage - 1);
      const uint64_t n = std::min(left, kPage - in_page);
      auto it = index_.find(gpa >> kShift);
      if (it == index_.end())
        return Error{EFAULT, fmt::format("guest address {:#x} is not mappable", gpa)};
      const Slot slot = it->second;
      if (slot.batch != last_batch) {
        acquire_locked(slot.batch, held);
        last_batch = slot.batch;
      }
      std::byte* host = batches_.at(slot.batch).base + uint64_t{slot.frame} * kPage + in_page;
      if (pieces != nullptr) {
        Piece* back = pieces->empty() ? nullptr : &pieces->back();
        if (back && back->host + back->len == host && back->gpa + back->len == gpa) {
          back->len += n;
        } else {
          pieces->push_back({host, n, gpa});
        }
      }
      gpa += n;
      left -= n;
    }
  }
  return ok_status();
}

Result<std::byte*> MappingCache::ring_locked(RingId id, std::vector<uint32_t>& held) {
  auto it = rings_.find(id);
  if (it == rings_.end()) return Error{ENOENT, fmt::format("no pinned ring {}", id)};
  Ring& ring = it->second;
  if (!ring.batch) {
    std::vector<uint64_t> gfns;
    for (uint64_t g = first_gfn(ring.range); g <= last_gfn(ring.range); ++g) gfns.push_back(g);
    auto b = map_locked(gfns, false, true);
    if (!b) return b.error();
    ring.batch = *b;
    batches_.at(*b).last_use = std::numeric_limits<uint64_t>::max();  // never evicted
  }
  Batch& b = batches_.at(*ring.batch);
  ++b.users;
  held.push_back(*ring.batch);
  return b.base + (ring.range.gpa & (kPage - 1));
}

void MappingCache::acquire_locked(uint32_t id, std::vector<uint32_t>& held) {
  Batch& b = batches_.at(id);
  ++b.users;
  b.last_use = ++tick_;
  held.push_back(id);
}

void MappingCache::release_locked(std::span<const uint32_t> held) {
  for (uint32_t id : held) {
    auto it = batches_.find(id);
    if (it == batches_.end()) continue;
    Batch& b = it->second;
    if (--b.users == 0 && b.doomed) unmap_locked(id);
  }
}

void MappingCache::doom_locked(uint32_t id) {
  Batch& b = batches_.at(id);
  if (b.users == 0) {
    unmap_locked(id);
  } else if (!b.doomed) {
    b.doomed = true;
    ++doomed_live_;
  }
}

void MappingCache::unmap_locked(uint32_t id) {
  auto it = batches_.find(id);
  if (it == batches_.end()) return;
  Batch& b = it->second;
  for (uint64_t gfn : b.indexed) {
    auto at = index_.find(gfn);
    if (at != index_.end() && at->second.batch == id) index_.erase(at);
  }
  memory_.unmap_frames(b.base, b.frames);
  ++stats_.unmap_calls;
  stats_.frames_mapped -= b.frames;
  if (b.doomed) --doomed_live_;
  batches_.erase(it);
}

// Idle, unpinned batches go least recently used first, down to 3/4 of the
// bound; rings (last_use = max) and batches in use stay.
void MappingCache::evict_locked() {
  if (stats_.frames_mapped <= limits_.max_frames) return;
  std::vector<std::pair<uint64_t, uint32_t>> idle;
  for (const auto& [id, b] : batches_) {
    if (b.users == 0 && !b.doomed && b.last_use != std::numeric_limits<uint64_t>::max())
      idle.emplace_back(b.last_use, id);
  }
  std::sort(idle.begin(), idle.end());
  const uint64_t target = limits_.max_frames * kEvictToNumerator / kEvictToDenominator;
  for (const auto& [tick, id] : idle) {
    if (stats_.frames_mapped <= target) break;
    unmap_locked(id);
    ++stats_.evictions;
  }
}

void MappingCache::mark_dirty_locked(std::span<const hv::DirtyExtent> extents) {
  ++stats_.dirty_calls;
  if (Status s = memory_.mark_dirty(extents); !s)
    spdlog::warn("marking {} guest extent(s) dirty: {}", extents.size(), s.error().describe());
}

}  // namespace vgpu::dma
