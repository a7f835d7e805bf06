// A WRITE/READ scatter list (docs/spec.md Part II): read from guest memory
// once into private memory, then checked entry by entry. Never trusts a
// count, length or address it has not bounded.
#pragma once

#include <cstdint>
#include <vector>

#include "vgpu/dma/guest_dma.h"
#include "vgpu/queue/protocol.h"

namespace vgpu::queue {

// Parses `count` entries at `list_gpa` whose lengths must sum to `total`
// into `out` (guest ranges, in order). Returns kSuccess or the status the
// command completes with:
//   kInvalidField    count 0 or above 1024, a reserved field set, lengths
//                    not summing to `total`
//   kInvalidAddress  the list or an entry wraps around the address space,
//                    or the list itself is not mappable
Status parse_scatter_list(dma::DmaSession& session, uint64_t list_gpa, uint64_t count,
                          uint64_t total, std::vector<dma::GuestRange>& out);

}  // namespace vgpu::queue
