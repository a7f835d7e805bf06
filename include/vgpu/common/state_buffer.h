// The bytes a device's state is saved as across a restart of the daemon
// (docs/spec.md §12): a flat little-endian record of trivially copyable
// fields, written by StateWriter and read back by StateReader.
//
// The saved bytes come from a file the unprivileged worker writes, so
// reading them is bounded like any other untrusted input: every get checks
// the length, and the caller validates every value before using it.
#pragma once

#include <cstddef>
#include <cstring>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

namespace vgpu {

class StateWriter {
 public:
  // Reuses `out`'s capacity: saving happens after every guest write.
  explicit StateWriter(std::vector<std::byte>& out) : out_(out) { out_.clear(); }

  template <typename T>
  void put(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    put_bytes(std::as_bytes(std::span(&value, 1)));
  }
  void put_bytes(std::span<const std::byte> bytes) {
    out_.insert(out_.end(), bytes.begin(), bytes.end());
  }

 private:
  std::vector<std::byte>& out_;
};

class StateReader {
 public:
  explicit StateReader(std::span<const std::byte> in) : in_(in) {}

  template <typename T>
  std::optional<T> get() {
    static_assert(std::is_trivially_copyable_v<T>);
    T value;
    if (!get_bytes(std::as_writable_bytes(std::span(&value, 1)))) return std::nullopt;
    return value;
  }
  bool get_bytes(std::span<std::byte> out) {
    if (out.size() > in_.size() - at_) return false;
    std::memcpy(out.data(), in_.data() + at_, out.size());
    at_ += out.size();
    return true;
  }
  bool at_end() const { return at_ == in_.size(); }

 private:
  std::span<const std::byte> in_;
  size_t at_ = 0;
};

}  // namespace vgpu
