// Memory of Python objects, without copying: the buffer protocol (numpy arrays, bytearray,
// memoryview), __cuda_array_interface__ (CuPy, PyTorch CUDA tensors, Numba) and DLPack
// (__dlpack__). Only C-contiguous memory is accepted: the engine moves byte ranges.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <optional>

#include "transport/provider.h"

namespace ferry::python {

namespace py = pybind11;

struct Memory {
  void* addr = nullptr;
  uint64_t bytes = 0;
  bool readonly = false;
  // Host memory by the buffer protocol and CPU DLPack; device memory by the CUDA array
  // interface and CUDA DLPack. Unset: let the engine ask the CUDA runtime.
  std::optional<MemoryKind> kind;
  // What keeps the memory alive: the object itself, or its DLPack capsule.
  py::object owner;
};

// The memory of `obj`; throws INVALID_ARGUMENT naming what is wrong with it (not
// contiguous, read-only when `writable`, no memory interface at all).
Memory memory_of(py::handle obj, bool writable, const char* what);

}  // namespace ferry::python
