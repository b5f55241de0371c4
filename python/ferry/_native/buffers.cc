#include "python/ferry/_native/buffers.h"

#include <string>

#include "python/ferry/_native/errors.h"

namespace ferry::python {
namespace {

// DLPack's C structures (dlpack.h, version 0.x as numpy, CuPy and PyTorch export them),
// only the fields read here.
struct DLDevice {
  int32_t device_type;  // 1 = CPU, 2 = CUDA, 3 = CUDA host
  int32_t device_id;
};
struct DLDataType {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
};
struct DLTensor {
  void* data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;
  int64_t* strides;  // null: compact row-major
  uint64_t byte_offset;
};
struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor*);
};

std::string describe(py::handle obj) { return py::str(py::type::of(obj).attr("__name__")).cast<std::string>(); }

Memory from_buffer(py::handle obj, bool writable, const char* what) {
  Py_buffer view;
  if (PyObject_GetBuffer(obj.ptr(), &view, PyBUF_STRIDES | PyBUF_FORMAT) != 0) {
    PyErr_Clear();
    fail(ErrorCode::kInvalidArgument, std::string(what) + ": the " + describe(obj) + " does not expose its memory");
  }
  const bool contiguous = PyBuffer_IsContiguous(&view, 'C') != 0;
  Memory m{view.buf, static_cast<uint64_t>(view.len), view.readonly != 0, MemoryKind::kHost, py::reinterpret_borrow<py::object>(obj)};
  PyBuffer_Release(&view);
  if (!contiguous) {
    fail(ErrorCode::kInvalidArgument, std::string(what) + ": the " + describe(obj) +
                                          " is not C-contiguous (use numpy.ascontiguousarray, or register its base)");
  }
  if (writable && m.readonly) fail(ErrorCode::kInvalidArgument, std::string(what) + ": the " + describe(obj) + " is read-only");
  return m;
}

uint64_t typestr_bytes(const std::string& typestr) {
  // "<f4", "|u1", ...: the item size is the number after the kind letter.
  if (typestr.size() < 3) return 0;
  try {
    return std::stoull(typestr.substr(2));
  } catch (...) {
    return 0;
  }
}

Memory from_cuda_interface(py::handle obj, const char* what) {
  py::dict cai = obj.attr("__cuda_array_interface__");
  auto data = cai["data"].cast<py::tuple>();
  auto shape = cai["shape"].cast<py::tuple>();
  const uint64_t item = typestr_bytes(cai["typestr"].cast<std::string>());
  if (item == 0) fail(ErrorCode::kInvalidArgument, std::string(what) + ": unreadable typestr in __cuda_array_interface__");
  uint64_t bytes = item;
  for (auto d : shape) bytes *= d.cast<uint64_t>();
  // Strides absent or None mean C-contiguous; anything else must equal them.
  if (cai.contains("strides") && !cai["strides"].is_none()) {
    auto strides = cai["strides"].cast<py::tuple>();
    uint64_t expect = item;
    for (size_t i = shape.size(); i-- > 0;) {
      if (shape[i].cast<uint64_t>() > 1 && strides[i].cast<uint64_t>() != expect) {
        fail(ErrorCode::kInvalidArgument, std::string(what) + ": the " + describe(obj) + " is not C-contiguous");
      }
      expect *= shape[i].cast<uint64_t>();
    }
  }
  Memory m{reinterpret_cast<void*>(data[0].cast<uintptr_t>()), bytes, data[1].cast<bool>(), MemoryKind::kDevice,
           py::reinterpret_borrow<py::object>(obj)};
  return m;
}

Memory from_dlpack(py::handle obj, const char* what) {
  py::object capsule = obj.attr("__dlpack__")();
  auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule.ptr(), "dltensor"));
  if (managed == nullptr) {
    PyErr_Clear();
    fail(ErrorCode::kInvalidArgument, std::string(what) + ": __dlpack__ did not return an unused DLPack capsule");
  }
  const DLTensor& t = managed->dl_tensor;
  const uint64_t item = uint64_t{t.dtype.bits} * t.dtype.lanes / 8;
  uint64_t bytes = item;
  for (int32_t i = 0; i < t.ndim; ++i) bytes *= static_cast<uint64_t>(t.shape[i]);
  if (t.strides != nullptr) {
    int64_t expect = 1;
    for (int32_t i = t.ndim; i-- > 0;) {
      if (t.shape[i] > 1 && t.strides[i] != expect) {
        fail(ErrorCode::kInvalidArgument, std::string(what) + ": the DLPack tensor is not C-contiguous");
      }
      expect *= t.shape[i];
    }
  }
  std::optional<MemoryKind> kind;
  if (t.device.device_type == 1 || t.device.device_type == 3) kind = MemoryKind::kHost;
  if (t.device.device_type == 2) kind = MemoryKind::kDevice;
  if (!kind) fail(ErrorCode::kUnsupported, std::string(what) + ": DLPack device type " + std::to_string(t.device.device_type) + " is neither CPU nor CUDA");
  // The capsule keeps the tensor alive; unconsumed, its own destructor frees it.
  return Memory{static_cast<uint8_t*>(t.data) + t.byte_offset, bytes, false, kind, capsule};
}

}  // namespace

Memory memory_of(py::handle obj, bool writable, const char* what) {
  if (PyObject_CheckBuffer(obj.ptr())) return from_buffer(obj, writable, what);
  if (py::hasattr(obj, "__cuda_array_interface__")) {
    Memory m = from_cuda_interface(obj, what);
    if (writable && m.readonly) fail(ErrorCode::kInvalidArgument, std::string(what) + ": the " + describe(obj) + " is read-only");
    return m;
  }
  if (py::hasattr(obj, "__dlpack__")) return from_dlpack(obj, what);
  fail(ErrorCode::kInvalidArgument, std::string(what) + ": expected a buffer (numpy array, bytearray), an object with "
                                                        "__cuda_array_interface__ or __dlpack__, got a " + describe(obj));
}

}  // namespace ferry::python
