#include "vgpu/queue/scatter_list.h"

#include <limits>
#include <span>

namespace vgpu::queue {

Status parse_scatter_list(dma::DmaSession& session, uint64_t list_gpa, uint64_t count,
                          uint64_t total, std::vector<dma::GuestRange>& out) {
  out.clear();
  if (count == 0 || count > kMaxScatterEntries) return Status::kInvalidField;
  const uint64_t bytes = count * sizeof(ScatterEntry);  // <= 16 KiB: no overflow
  if (list_gpa > std::numeric_limits<uint64_t>::max() - (bytes - 1)) return Status::kInvalidAddress;
  std::vector<ScatterEntry> list(count);  // the only copy we look at
  if (!session.read(list_gpa, std::as_writable_bytes(std::span(list))))
    return Status::kInvalidAddress;
  uint64_t sum = 0;  // <= 1024 * 2^32: no overflow
  for (const ScatterEntry& e : list) {
    if (e.reserved != 0) return Status::kInvalidField;
    if (e.length != 0 && e.guest_address > std::numeric_limits<uint64_t>::max() - (e.length - 1))
      return Status::kInvalidAddress;
    sum += e.length;
    if (e.length != 0) out.push_back({e.guest_address, e.length});
  }
  if (sum != total) return Status::kInvalidField;
  return Status::kSuccess;
}

}  // namespace vgpu::queue
