// Errors: every failure reaches Python as a ferry.FerryError subclass (ferry/errors.py)
// carrying the engine's status and message. C++ code throws Failure; one translator,
// registered by the module, turns it into the Python exception.
#pragma once

#include <string>
#include <utility>

#include "transport/result.h"

namespace ferry::python {

struct Failure {
  ErrorCode code;
  std::string message;
};

[[noreturn]] inline void fail(ErrorCode code, std::string message) { throw Failure{code, std::move(message)}; }
[[noreturn]] inline void fail(const Error& error) { throw Failure{error.code, error.message}; }

inline void check(const VoidResult& result) {
  if (!result.ok()) fail(result.error());
}

template <typename T>
T take(Result<T> result) {
  if (!result.ok()) fail(result.error());
  return std::move(result).value();
}

// The status name Python sees, e.g. "DEADLINE_EXCEEDED".
const char* status_name(ErrorCode code);

}  // namespace ferry::python
