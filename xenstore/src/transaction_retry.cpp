#include "vgpu/xenstore/transaction_retry.h"

#include <algorithm>
#include <random>
#include <string>
#include <thread>

#include "vgpu/xenstore/store.h"

namespace vgpu::xenstore {

std::chrono::microseconds backoff_delay(int retry, uint32_t random) {
  // Doubling stops at the cap, long before the shift could overflow.
  const int doublings = std::clamp(retry - 1, 0, 30);
  const int64_t full = std::min<int64_t>(kBackoffBase.count() << doublings, kBackoffCap.count());
  const int64_t half = full / 2;
  return std::chrono::microseconds(half + static_cast<int64_t>(random % (full - half + 1)));
}

Status retry_transaction(const std::function<std::optional<Status>()>& attempt) {
  // Seeded per thread from the OS, so that two daemons never pause in step.
  thread_local std::minstd_rand jitter{std::random_device{}()};
  for (int n = 0; n < kMaxTransactionAttempts; ++n) {
    if (n > 0) std::this_thread::sleep_for(backoff_delay(n, static_cast<uint32_t>(jitter())));
    if (auto done = attempt()) return *done;
  }
  return Error{EAGAIN, "XenStore transaction still conflicting after " +
                           std::to_string(kMaxTransactionAttempts) + " attempts"};
}

}  // namespace vgpu::xenstore
