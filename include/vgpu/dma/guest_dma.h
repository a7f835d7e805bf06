// What device code needs from guest memory: direct access to guest-physical
// ranges through mappings it does not manage itself (docs/queue.md "Mapping
// cache"). The command queue and the ioreq dispatcher depend on this
// interface, never on hv::GuestMemory.
//
// Thread-safety: a GuestDma is thread-safe. A DmaSession belongs to the
// thread that opened it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "vgpu/common/result.h"

namespace vgpu::dma {

// A guest-physical byte range.
struct GuestRange {
  uint64_t gpa = 0;
  uint64_t len = 0;
};

// Which way bytes move; kToGuest marks the pages dirty for live migration.
enum class Direction : uint8_t { kFromGuest, kToGuest };

using RingId = uint32_t;

// Receives host views of consecutive pieces of a guest range list, in order.
using PieceFn = std::function<void(std::span<std::byte> host)>;

// A scope of guest-memory use: every mapping it hands out stays mapped until
// it ends, even across an invalidation (which then waits for it). Ending it
// reports the pages written through it as dirty, in one call.
class DmaSession {
 public:
  virtual ~DmaSession() = default;

  // Host address of a pinned ring's first byte, the ring mapped again first
  // if an invalidation dropped it. EFAULT if the ring is no longer mappable.
  virtual Result<std::byte*> ring(RingId id) = 0;
  // The device wrote [offset, offset + len) of a ring: dirty it.
  virtual void ring_written(RingId id, uint64_t offset, uint64_t len) = 0;

  // Maps every frame of `ranges` that is not mapped yet, in as few calls as
  // the batch limit allows, and checks that all of them could be. Holds
  // nothing afterwards. EFAULT names the first frame that cannot be mapped;
  // EINVAL a range that wraps around the address space.
  virtual Status prefetch(std::span<const GuestRange> ranges) = 0;
  // Calls `fn` with host pieces covering `ranges` in order, after every
  // frame is known to be mapped (all or nothing: on error, fn was never
  // called). Errors as for prefetch().
  virtual Status visit(std::span<const GuestRange> ranges, Direction dir, const PieceFn& fn) = 0;

  // Copies of one contiguous guest range, through visit().
  Status read(uint64_t gpa, std::span<std::byte> out);
  Status write(uint64_t gpa, std::span<const std::byte> in);
};

class GuestDma {
 public:
  virtual ~GuestDma() = default;

  // A ring: a guest-physical range kept mapped until unpin_ring() (and
  // mapped again on its next use after an invalidation). Fails EFAULT if it
  // cannot be mapped now.
  virtual Result<RingId> pin_ring(GuestRange range) = 0;
  virtual void unpin_ring(RingId id) = 0;

  virtual std::unique_ptr<DmaSession> session() = 0;

  // Drops every mapping (Xen's IOREQ_TYPE_INVALIDATE: the guest's memory map
  // changed). Returns once none is left, waiting for sessions of other
  // threads that use one; must not be called with a session open on the
  // calling thread.
  virtual void invalidate() = 0;

  // One-shot copies, each in its own session.
  Status read(uint64_t gpa, std::span<std::byte> out);
  Status write(uint64_t gpa, std::span<const std::byte> in);
};

}  // namespace vgpu::dma
