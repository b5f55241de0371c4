// The one file of transport/ipc/ that includes CUDA headers: the IPC calls are the ipc
// provider's alone, so they live here rather than in the shared GPU runtime.
#include "transport/ipc/cuda_ipc.h"

#include <cuda.h>
#include <cuda_runtime_api.h>

#include <cstring>
#include <string>

namespace ferry::ipc {
namespace {

static_assert(sizeof(cudaIpcMemHandle_t) == kIpcHandleBytes);

Error cuda_error(const char* what, cudaError_t e) {
  return make_error(ErrorCode::kUnavailable, std::string("ipc: ") + what + ": " + cudaGetErrorString(e));
}

}  // namespace

Result<ExportedGpuMemory> export_gpu_memory(const void* ptr) {
  using GetAddressRange = CUresult (*)(CUdeviceptr*, size_t*, CUdeviceptr);
  void* fn = nullptr;
  cudaDriverEntryPointQueryResult found{};
  if (cudaGetDriverEntryPointByVersion("cuMemGetAddressRange", &fn, 12000, cudaEnableDefault, &found) !=
          cudaSuccess ||
      found != cudaDriverEntryPointSuccess || fn == nullptr) {
    return make_error(ErrorCode::kUnsupported, "ipc: the CUDA driver lacks cuMemGetAddressRange");
  }
  CUdeviceptr base = 0;
  size_t size = 0;
  if (reinterpret_cast<GetAddressRange>(fn)(&base, &size, reinterpret_cast<CUdeviceptr>(ptr)) != CUDA_SUCCESS) {
    return make_error(ErrorCode::kInvalidArgument, "ipc: GPU memory range not found (freed?)");
  }
  cudaPointerAttributes attributes{};
  if (cudaError_t e = cudaPointerGetAttributes(&attributes, ptr); e != cudaSuccess) {
    return cuda_error("cudaPointerGetAttributes", e);
  }
  cudaIpcMemHandle_t handle{};
  if (cudaError_t e = cudaIpcGetMemHandle(&handle, reinterpret_cast<void*>(base)); e != cudaSuccess) {
    return cuda_error("cudaIpcGetMemHandle", e);
  }
  ExportedGpuMemory out;
  std::memcpy(out.handle, &handle, sizeof handle);
  out.alloc_offset = reinterpret_cast<uint64_t>(ptr) - static_cast<uint64_t>(base);
  out.device = attributes.device;
  return out;
}

Result<void*> open_gpu_memory(const uint8_t (&bytes)[kIpcHandleBytes]) {
  cudaIpcMemHandle_t handle{};
  std::memcpy(&handle, bytes, sizeof handle);
  void* base = nullptr;
  if (cudaError_t e = cudaIpcOpenMemHandle(&base, handle, cudaIpcMemLazyEnablePeerAccess); e != cudaSuccess) {
    return cuda_error("cudaIpcOpenMemHandle", e);
  }
  return base;
}

void close_gpu_memory(void* base) { cudaIpcCloseMemHandle(base); }

}  // namespace ferry::ipc
