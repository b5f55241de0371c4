#include "transport/gpu/runtime.h"

#include <cuda.h>
#include <cuda_runtime_api.h>

#include <cstring>
#include <utility>

namespace ferry::gpu {
namespace {

Error cuda_error(const char* what, cudaError_t e) {
  const ErrorCode code = e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver ||
                                 e == cudaErrorDevicesUnavailable
                             ? ErrorCode::kUnavailable
                             : ErrorCode::kInternal;
  return make_error(code, std::string(what) + ": " + cudaGetErrorString(e));
}

// A driver API function through the runtime, so that nothing links libcuda (absent on
// machines without a GPU driver). Null when the driver lacks it.
template <typename Fn>
Fn driver_function(const char* name) {
  void* fn = nullptr;
  cudaDriverEntryPointQueryResult found{};
  if (cudaGetDriverEntryPointByVersion(name, &fn, 12000, cudaEnableDefault, &found) != cudaSuccess ||
      found != cudaDriverEntryPointSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  return reinterpret_cast<Fn>(fn);
}

// The live cudaMalloc allocation that holds a GPU pointer.
struct Allocation {
  uintptr_t base = 0;
  size_t size = 0;
};
Result<Allocation> allocation_of(const void* ptr) {
  using GetAddressRange = CUresult (*)(CUdeviceptr*, size_t*, CUdeviceptr);
  static const auto get_range = driver_function<GetAddressRange>("cuMemGetAddressRange");
  if (get_range == nullptr) return make_error(ErrorCode::kUnsupported, "the CUDA driver lacks cuMemGetAddressRange");
  CUdeviceptr base = 0;
  size_t size = 0;
  if (get_range(&base, &size, reinterpret_cast<CUdeviceptr>(ptr)) != CUDA_SUCCESS) {
    return make_error(ErrorCode::kInvalidArgument, "GPU memory range not found (freed?)");
  }
  return Allocation{static_cast<uintptr_t>(base), size};
}

}  // namespace

static VoidResult probe() {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e == cudaErrorInsufficientDriver) {
    return make_error(ErrorCode::kUnavailable, "no CUDA driver on this machine (no GPU, or the driver is not loaded)");
  }
  if (e == cudaErrorNoDevice || (e == cudaSuccess && count == 0)) {
    return make_error(ErrorCode::kUnavailable, "no CUDA device on this machine");
  }
  if (e != cudaSuccess) return cuda_error("cudaGetDeviceCount", e);
  return {};
}

// Asked once: the answer does not change while the process runs, and registration asks
// for every region.
VoidResult available() {
  static const VoidResult answer = probe();
  return answer;
}

int device_count() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess ? count : 0;
}

Result<std::string> device_name(int device) {
  cudaDeviceProp prop{};
  const cudaError_t e = cudaGetDeviceProperties(&prop, device);
  if (e != cudaSuccess) return cuda_error("cudaGetDeviceProperties", e);
  return std::string(prop.name);
}

PointerInfo query_pointer(const void* ptr) {
  PointerInfo info;
  if (!available().ok()) return info;  // without a GPU every pointer is host memory
  cudaPointerAttributes attr{};
  if (ptr == nullptr || cudaPointerGetAttributes(&attr, ptr) != cudaSuccess) {
    cudaGetLastError();  // a plain host pointer, or no CUDA: not an error to keep
    return info;
  }
  switch (attr.type) {
    case cudaMemoryTypeDevice:
      info.kind = MemoryKind::kDevice;
      info.device = attr.device;
      break;
    case cudaMemoryTypeManaged:
      info.kind = MemoryKind::kDevice;
      info.device = attr.device;
      info.managed = true;
      break;
    case cudaMemoryTypeHost:
      info.pinned = true;
      break;
    default:
      break;
  }
  return info;
}

VoidResult check_memory_kind(const void* ptr, size_t length, MemoryKind kind) {
  const PointerInfo info = query_pointer(ptr);
  if (kind == MemoryKind::kHost) {
    if (info.kind == MemoryKind::kDevice) {
      return make_error(ErrorCode::kInvalidArgument,
                        "a GPU pointer (device " + std::to_string(info.device) + ") registered as host memory");
    }
    return {};
  }
  if (info.kind != MemoryKind::kDevice) {
    if (!available().ok()) {
      return make_error(ErrorCode::kUnsupported, "GPU memory registered, but " + available().error().message);
    }
    return make_error(ErrorCode::kInvalidArgument,
                      "a host pointer registered as GPU memory (not from cudaMalloc, or already freed)");
  }
  // The whole range must sit in one live allocation: its last byte must be device memory
  // of the same allocation (a range past the end, or into a freed neighbour, is refused).
  auto alloc = allocation_of(ptr);
  if (!alloc.ok()) return alloc.error();
  const auto begin = reinterpret_cast<uintptr_t>(ptr);
  if (begin + length > alloc->base + alloc->size) {
    return make_error(ErrorCode::kOutOfRange, "GPU range of " + std::to_string(length) + " bytes runs " +
                                                  std::to_string(begin + length - alloc->base - alloc->size) +
                                                  " bytes past the end of its allocation");
  }
  return {};
}

Result<int> dmabuf_fd(const void* ptr, size_t length) {
  using GetHandle = CUresult (*)(void*, CUdeviceptr, size_t, CUmemRangeHandleType, unsigned long long);
  static const auto get_handle = driver_function<GetHandle>("cuMemGetHandleForAddressRange");
  if (get_handle == nullptr) {
    return make_error(ErrorCode::kUnsupported, "the CUDA driver has no dmabuf export (cuMemGetHandleForAddressRange)");
  }
  int fd = -1;
  const CUresult r = get_handle(&fd, reinterpret_cast<CUdeviceptr>(ptr), length,
                                CU_MEM_RANGE_HANDLE_TYPE_DMA_BUF_FD, 0);
  if (r != CUDA_SUCCESS) {
    return make_error(ErrorCode::kUnsupported,
                      "the CUDA driver refused a dmabuf for this range (CUresult " + std::to_string(r) +
                          "; dmabuf needs an open kernel module and a page-aligned range)");
  }
  return fd;
}

Result<IpcHandle> ipc_handle(const void* ptr) {
  static_assert(sizeof(cudaIpcMemHandle_t) == kIpcHandleBytes);
  auto alloc = allocation_of(ptr);
  if (!alloc.ok()) return alloc.error();
  cudaPointerAttributes attributes{};
  if (cudaError_t e = cudaPointerGetAttributes(&attributes, ptr); e != cudaSuccess) {
    return cuda_error("cudaPointerGetAttributes", e);
  }
  cudaIpcMemHandle_t handle{};
  if (cudaError_t e = cudaIpcGetMemHandle(&handle, reinterpret_cast<void*>(alloc->base)); e != cudaSuccess) {
    return cuda_error("cudaIpcGetMemHandle", e);
  }
  IpcHandle out;
  std::memcpy(out.bytes.data(), &handle, sizeof handle);
  out.alloc_offset = reinterpret_cast<uintptr_t>(ptr) - alloc->base;
  out.device = attributes.device;
  return out;
}

Result<void*> open_ipc_handle(std::span<const uint8_t, kIpcHandleBytes> bytes) {
  cudaIpcMemHandle_t handle{};
  std::memcpy(&handle, bytes.data(), sizeof handle);
  void* base = nullptr;
  if (cudaError_t e = cudaIpcOpenMemHandle(&base, handle, cudaIpcMemLazyEnablePeerAccess); e != cudaSuccess) {
    return cuda_error("cudaIpcOpenMemHandle", e);
  }
  return base;
}

void close_ipc_handle(void* base) { cudaIpcCloseMemHandle(base); }

VoidResult copy(void* dst, const void* src, size_t n) {
  if (n == 0) return {};
  const cudaError_t e = cudaMemcpy(dst, src, n, cudaMemcpyDefault);
  if (e != cudaSuccess) return cuda_error("cudaMemcpy", e);
  return {};
}

VoidResult copy(void* dst, const void* src, size_t n, MemoryKind kind) {
  if (kind == MemoryKind::kDevice) return copy(dst, src, n);
  if (n > 0) std::memmove(dst, src, n);
  return {};
}

VoidResult synchronize() {
  const cudaError_t e = cudaDeviceSynchronize();
  if (e != cudaSuccess) return cuda_error("cudaDeviceSynchronize", e);
  return {};
}

namespace {

template <MemoryKind Kind>
cudaError_t allocate_memory(void** data, size_t bytes) {
  return Kind == MemoryKind::kDevice ? cudaMalloc(data, bytes) : cudaMallocHost(data, bytes);
}

template <MemoryKind Kind>
void free_memory(void* data) {
  if (data == nullptr) return;
  if (Kind == MemoryKind::kDevice) {
    cudaFree(data);
  } else {
    cudaFreeHost(data);
  }
}

}  // namespace

template <MemoryKind Kind>
Result<Buffer<Kind>> Buffer<Kind>::allocate(size_t bytes) {
  Buffer buffer;
  const cudaError_t e = allocate_memory<Kind>(&buffer.data_, bytes == 0 ? 1 : bytes);
  if (e != cudaSuccess) {
    cudaGetLastError();
    const char* call = Kind == MemoryKind::kDevice ? "cudaMalloc" : "cudaMallocHost";
    return cuda_error((std::string(call) + " of " + std::to_string(bytes) + " bytes").c_str(), e);
  }
  buffer.size_ = bytes;
  return buffer;
}

template <MemoryKind Kind>
Buffer<Kind>::~Buffer() {
  free_memory<Kind>(data_);
}

template <MemoryKind Kind>
Buffer<Kind>::Buffer(Buffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

template <MemoryKind Kind>
Buffer<Kind>& Buffer<Kind>::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    free_memory<Kind>(data_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

template class Buffer<MemoryKind::kDevice>;
template class Buffer<MemoryKind::kHost>;

}  // namespace ferry::gpu
