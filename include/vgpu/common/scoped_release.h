// Runs a release action exactly once when it goes out of scope.
//
// Each resource the daemon takes from the hypervisor (server, page, enable,
// ports, claims) is held by one of these as a class member, so members
// declared in acquisition order are released in exactly the reverse order
// and no error path needs a goto ladder.
#pragma once

#include <functional>
#include <utility>

namespace vgpu {

class ScopedRelease {
 public:
  ScopedRelease() = default;
  explicit ScopedRelease(std::function<void()> release) : release_(std::move(release)) {}
  ScopedRelease(ScopedRelease&& other) noexcept : release_(std::exchange(other.release_, {})) {}
  ScopedRelease& operator=(ScopedRelease&& other) noexcept {
    if (this != &other) {
      reset();
      release_ = std::exchange(other.release_, {});
    }
    return *this;
  }
  ScopedRelease(const ScopedRelease&) = delete;
  ScopedRelease& operator=(const ScopedRelease&) = delete;
  ~ScopedRelease() { reset(); }

  // Releases now (idempotent).
  void reset() {
    if (release_) std::exchange(release_, {})();
  }
  bool armed() const { return static_cast<bool>(release_); }
  // Forgets the action: the resource is left for someone else.
  void release() { release_ = {}; }

 private:
  std::function<void()> release_;
};

}  // namespace vgpu
