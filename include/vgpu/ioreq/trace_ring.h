// The last requests each vCPU slot carried and what we answered, kept at all
// times, so that when a guest dies (a kernel panic, a triple fault) the log
// shows its last exchanges with us and whether any answer was malformed.
//
// Fixed memory: kDepth entries per vCPU, allocated once at start. Recording
// costs two clock reads and a few stores per request, cheap enough for the
// request path (docs/performance.md has the measured cost). Dumped to the log
// when the guest shuts down abnormally and on SIGUSR1.
//
// Thread-compatible: used from the event-loop thread only.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vgpu/abi/ioreq.h"

namespace vgpu::ioreq {

struct TraceEntry {
  uint64_t seq = 0;      // order across all vCPUs, from 1; 0: never used
  uint64_t seen_ns = 0;  // steady clock when we took the READY slot
  uint64_t addr = 0;
  uint64_t data_in = 0;   // the slot's data as Xen gave it
  uint64_t data_out = 0;  // the slot's data as we left it for Xen
  uint32_t count = 0;
  uint32_t answer_ns = 0;  // taken .. answered, saturating
  uint16_t vcpu = 0;
  uint8_t type = 0;
  uint8_t size = 0;
  uint8_t dir = 0;
  uint8_t data_is_ptr = 0;
  uint8_t df = 0;
  uint8_t state_seen = 0;       // when taken (always IOREQ_READY)
  uint8_t state_at_answer = 0;  // just before IORESP_READY: INPROCESS unless Xen moved it
  bool answered = false;
};

struct TraceVcpuCounters {
  uint64_t taken = 0;
  uint64_t not_ready = 0;            // woken for the slot but it was not READY
  uint8_t last_not_ready_state = 0;  // the state seen on the last such wake-up
};

class TraceRing {
 public:
  static constexpr unsigned kDepth = 32;  // entries kept per vCPU (a power of two)
  static_assert((kDepth & (kDepth - 1)) == 0);

  explicit TraceRing(unsigned vcpus);

  // Records the request just copied out of vCPU `vcpu`'s READY slot; complete
  // the returned entry with answered() before publishing IORESP_READY.
  TraceEntry& taken(unsigned vcpu, const ioreq_t& req);
  // What the slot holds now, just before IORESP_READY is published.
  static void answered(TraceEntry& entry, const ioreq_t* slot);
  // A wake-up for `vcpu` found its slot in `state`, not READY.
  void not_ready(unsigned vcpu, uint8_t state);

  unsigned vcpus() const { return static_cast<unsigned>(vcpus_.size()); }
  const TraceVcpuCounters& counters(unsigned vcpu) const { return vcpus_.at(vcpu).counters; }
  // Every recorded entry, oldest first, all vCPUs merged.
  std::vector<TraceEntry> entries() const;

  // What is wrong with an answer, "" if nothing: a size or count the request
  // type does not allow, read data beyond the access size, a slot whose state
  // changed while we held it, an entry never answered.
  static std::string anomalies(const TraceEntry& e);
  // One line per entry, times relative to the newest entry.
  static std::string format(const TraceEntry& e, uint64_t newest_ns);
  // A header, one line per vCPU's counters, then every entry: what dump() logs.
  std::vector<std::string> dump_lines(std::string_view why) const;
  // Logs dump_lines() at warning level; returns how many entries had anomalies.
  unsigned dump(std::string_view why) const;

 private:
  struct Vcpu {
    std::array<TraceEntry, kDepth> ring{};
    uint32_t next = 0;
    TraceVcpuCounters counters;
  };
  std::vector<Vcpu> vcpus_;
  uint64_t seq_ = 0;
};

}  // namespace vgpu::ioreq
