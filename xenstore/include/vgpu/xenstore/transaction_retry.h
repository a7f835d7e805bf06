// Retrying a XenStore transaction whose commit conflicted (EAGAIN).
//
// xenstored fails a commit when a node the transaction touched changed
// meanwhile, and a guest may rewrite its own frontend nodes as fast as it
// likes. Retrying at once only meets the same writer again; pausing a
// growing, randomised while lets the commit slip between its writes, and
// desynchronises two daemons retrying against each other. The bound keeps
// the daemon's thread from stalling: the pauses of one transact() add up to
// at most about 0.2 s (kMaxTransactionAttempts, kBackoffCap).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

#include "vgpu/common/result.h"

namespace vgpu::xenstore {

// The pause before the first retry is at most kBackoffBase; each further
// retry doubles it, up to kBackoffCap.
inline constexpr std::chrono::microseconds kBackoffBase{250};
inline constexpr std::chrono::microseconds kBackoffCap{20000};

// The pause before retry number `retry` (1 for the first): uniform in
// [d/2, d], d = min(kBackoffBase * 2^(retry-1), kBackoffCap), chosen by
// `random` (any 32 random bits).
std::chrono::microseconds backoff_delay(int retry, uint32_t random);

// Runs `attempt` until it returns a Status (success, or an error that is not
// a conflict), at most kMaxTransactionAttempts times, pausing backoff_delay()
// before each retry. `attempt` returns nullopt for a conflicted commit.
// Gives up with EAGAIN.
Status retry_transaction(const std::function<std::optional<Status>()>& attempt);

}  // namespace vgpu::xenstore
