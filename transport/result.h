// Error and Result<T>: how synchronous calls of every layer report failure.
//
// Asynchronous failures (a write that reached a wrong key, say) are completions with a
// Status (transport/provider.h); synchronous ones (a malformed work request, a
// registration the device refused) are an Error naming what was wrong.
#pragma once

#include <cassert>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace ferry {

enum class ErrorCode {
  kInvalidArgument,   // the caller asked for something malformed
  kOutOfRange,        // a size, index or address beyond a limit
  kResourceExhausted, // a queue, table or pool is full
  kNotFound,          // a name, key or peer that does not exist
  kFailedPrecondition,// the object is in a state that forbids the call
  kUnavailable,       // the device, link or peer is gone
  kDeadlineExceeded,  // a bounded wait ran out
  kUnsupported,       // the device cannot do this
  kInternal,          // a bug: an invariant did not hold
};

const char* to_string(ErrorCode code);

struct Error {
  ErrorCode code;
  std::string message;

  std::string to_string() const;
};

inline Error make_error(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

// Either a value or an Error. Deliberately small: ok(), value(), error().
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : state_(std::move(error)) {}  // NOLINT

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<T>(state_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(state_));
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(state_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<Error>(state_);
  }

 private:
  std::variant<T, Error> state_;
};


template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    assert(!ok_);
    return error_;
  }

 private:
  Error error_{ErrorCode::kInternal, ""};
  bool ok_ = true;
};

using VoidResult = Result<void>;

// For setup code that cannot go on without the value (benchmarks, tools' set-up): the
// value, or a std::runtime_error carrying the error's text.
template <typename T>
T must(Result<T> result) {
  if (!result.ok()) throw std::runtime_error(result.error().to_string());
  return std::move(result).value();
}
inline void must(const VoidResult& result) {
  if (!result.ok()) throw std::runtime_error(result.error().to_string());
}

}  // namespace ferry
