#include "vgpu/ioreq/trace_ring.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <limits>

namespace vgpu::ioreq {
namespace {

constexpr unsigned kBitsPerByte = 8;
constexpr unsigned kMaxDataBytes = 8;
constexpr double kNsPerSecond = 1e9;
constexpr double kNsPerMicrosecond = 1e3;

uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

bool allowed_size(uint8_t type, uint32_t size) {
  if (type == IOREQ_TYPE_PCI_CONFIG) return size == 1 || size == 2 || size == 4;
  return size == 1 || size == 2 || size == 4 || size == 8;
}

// Request types whose size/count/data describe an access (the others are
// broadcasts whose fields mean nothing).
bool is_access(uint8_t type) {
  return type == IOREQ_TYPE_PIO || type == IOREQ_TYPE_COPY || type == IOREQ_TYPE_PCI_CONFIG;
}

std::string format_addr(const TraceEntry& e) {
  if (e.type == IOREQ_TYPE_PCI_CONFIG)
    return fmt::format("sbdf={:#x} reg={:#x}", abi::pci_config_sbdf(e.addr),
                       abi::pci_config_offset(e.addr));
  return fmt::format("addr={:#x}", e.addr);
}

}  // namespace

TraceRing::TraceRing(unsigned vcpus) : vcpus_(vcpus) {}

TraceEntry& TraceRing::taken(unsigned vcpu, const ioreq_t& req) {
  Vcpu& v = vcpus_[vcpu];
  TraceEntry& e = v.ring[v.next++ & (kDepth - 1)];
  ++v.counters.taken;
  e.seq = ++seq_;
  e.seen_ns = now_ns();
  e.addr = req.addr;
  e.data_in = req.data;
  e.data_out = 0;
  e.count = req.count;
  e.answer_ns = 0;
  e.vcpu = static_cast<uint16_t>(vcpu);
  e.type = req.type;
  e.size = static_cast<uint8_t>(std::min<uint32_t>(req.size, std::numeric_limits<uint8_t>::max()));
  e.dir = req.dir;
  e.data_is_ptr = req.data_is_ptr;
  e.df = req.df;
  e.state_seen = req.state;
  e.state_at_answer = 0;
  e.answered = false;
  return e;
}

void TraceRing::answered(TraceEntry& entry, const ioreq_t* slot) {
  entry.data_out = slot->data;
  entry.state_at_answer = abi::load_state(slot);
  const uint64_t took = now_ns() - entry.seen_ns;
  entry.answer_ns = static_cast<uint32_t>(std::min<uint64_t>(took, UINT32_MAX));
  entry.answered = true;
}

void TraceRing::not_ready(unsigned vcpu, uint8_t state) {
  TraceVcpuCounters& c = vcpus_[vcpu].counters;
  ++c.not_ready;
  c.last_not_ready_state = state;
}

std::vector<TraceEntry> TraceRing::entries() const {
  std::vector<TraceEntry> all;
  for (const Vcpu& v : vcpus_)
    for (const TraceEntry& e : v.ring)
      if (e.seq != 0) all.push_back(e);
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.seq < b.seq; });
  return all;
}

std::string TraceRing::anomalies(const TraceEntry& e) {
  std::string out;
  auto add = [&out](std::string_view what) {
    if (!out.empty()) out += ", ";
    out += what;
  };
  if (!e.answered) add("not answered");
  if (e.state_seen != STATE_IOREQ_READY) add("taken while not READY");
  if (e.answered && e.state_at_answer != STATE_IOREQ_INPROCESS)
    add(fmt::format("slot became {} while we held it", abi::state_name(e.state_at_answer)));
  if (!is_access(e.type)) return out;
  if (!allowed_size(e.type, e.size)) add(fmt::format("size {}", unsigned{e.size}));
  if (e.count == 0 || (e.type == IOREQ_TYPE_PCI_CONFIG && e.count != 1))
    add(fmt::format("count {}", e.count));
  if (e.answered && e.dir == IOREQ_READ && !e.data_is_ptr && e.size < kMaxDataBytes &&
      (e.data_out >> (kBitsPerByte * e.size)) != 0)
    add("read data beyond the access size");
  if (e.answered && (e.dir == IOREQ_WRITE || e.data_is_ptr) && e.data_out != e.data_in)
    add("slot data changed on a write or pointer request");
  return out;
}

std::string TraceRing::format(const TraceEntry& e, uint64_t newest_ns) {
  const double age_s = static_cast<double>(newest_ns - e.seen_ns) / kNsPerSecond;
  const std::string bad = anomalies(e);
  return fmt::format(
      "#{} v{} -{:.6f}s {} {} {} size={} count={}{}{} in={:#x} out={:#x} {}->{} {:.1f}us{}", e.seq,
      e.vcpu, age_s, abi::type_name(e.type), e.dir == IOREQ_READ ? "read" : "write", format_addr(e),
      unsigned{e.size}, e.count, e.data_is_ptr ? " ptr" : "", e.df ? " df" : "", e.data_in,
      e.data_out, abi::state_name(e.state_seen), abi::state_name(e.state_at_answer),
      static_cast<double>(e.answer_ns) / kNsPerMicrosecond, bad.empty() ? "" : " ANOMALY: " + bad);
}

std::vector<std::string> TraceRing::dump_lines(std::string_view why) const {
  const std::vector<TraceEntry> all = entries();
  std::vector<std::string> lines;
  lines.push_back(
      fmt::format("request trace ({}): last {} request(s), oldest first", why, all.size()));
  for (unsigned v = 0; v < vcpus(); ++v) {
    const TraceVcpuCounters& c = counters(v);
    lines.push_back(fmt::format(
        "trace v{}: {} taken, {} wake-up(s) found the slot not READY{}", v, c.taken, c.not_ready,
        c.not_ready ? fmt::format(" (last: {})", abi::state_name(c.last_not_ready_state)) : ""));
  }
  const uint64_t newest = all.empty() ? 0 : all.back().seen_ns;
  for (const TraceEntry& e : all) lines.push_back("trace " + format(e, newest));
  return lines;
}

unsigned TraceRing::dump(std::string_view why) const {
  for (const std::string& line : dump_lines(why)) spdlog::warn("{}", line);
  unsigned bad = 0;
  for (const TraceEntry& e : entries()) bad += anomalies(e).empty() ? 0 : 1;
  spdlog::warn("request trace: {} of the answers above look wrong", bad);
  return bad;
}

}  // namespace vgpu::ioreq
