// Result<T>: the setup-failure channel.
//
// Host and setup failures (a Xen call refused, a file that cannot be opened)
// return a Result the caller must look at; guest misbehaviour never does, it
// is answered as the spec says and logged. GCC 12 in C++20 mode has no
// std::expected, so this is the small subset we need.
#pragma once

#include <cerrno>
#include <string>
#include <utility>
#include <variant>

namespace vgpu {

// What went wrong, for a human, plus the errno that caused it (0 if none).
struct Error {
  int code = 0;
  std::string message;

  // "message: strerror(code)" when there is an errno, else just the message.
  std::string describe() const;
};

// Builds an Error from errno as it is right now.
Error errno_error(std::string message);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

inline Status ok_status() {
  return {};
}

}  // namespace vgpu
