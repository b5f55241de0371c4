#include "python/ferry/_native/errors.h"

#include <pybind11/pybind11.h>

#include "python/ferry/_native/bindings.h"

namespace py = pybind11;

namespace ferry::python {

const char* status_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "INVALID_ARGUMENT";
    case ErrorCode::kOutOfRange: return "OUT_OF_RANGE";
    case ErrorCode::kResourceExhausted: return "RESOURCE_EXHAUSTED";
    case ErrorCode::kNotFound: return "NOT_FOUND";
    case ErrorCode::kFailedPrecondition: return "FAILED_PRECONDITION";
    case ErrorCode::kUnavailable: return "UNAVAILABLE";
    case ErrorCode::kDeadlineExceeded: return "DEADLINE_EXCEEDED";
    case ErrorCode::kUnsupported: return "UNSUPPORTED";
    case ErrorCode::kInternal: return "INTERNAL";
  }
  return "INTERNAL";
}

void bind_errors(py::module_& m) {
  m.def("_status_names", [] {
    py::list names;
    for (ErrorCode c : {ErrorCode::kInvalidArgument, ErrorCode::kOutOfRange, ErrorCode::kResourceExhausted,
                        ErrorCode::kNotFound, ErrorCode::kFailedPrecondition, ErrorCode::kUnavailable,
                        ErrorCode::kDeadlineExceeded, ErrorCode::kUnsupported, ErrorCode::kInternal}) {
      names.append(status_name(c));
    }
    return names;
  });
  // The exception classes live in ferry/errors.py, where they are documented; the
  // module is imported when the first failure is raised, by then it is loaded.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Failure& f) {
      py::object error = py::module_::import("ferry.errors").attr("_from_status")(status_name(f.code), f.message);
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(error.ptr())), error.ptr());
    }
  });
}

}  // namespace ferry::python
