// CUDA IPC handles as the ipc provider uses them, in plain C++ (no CUDA header leaks):
// export a handle for the allocation holding a GPU pointer, open a peer's handle.
#pragma once

#include <cstdint>

#include "transport/ipc/layout.h"
#include "transport/result.h"

namespace ferry::ipc {

struct ExportedGpuMemory {
  uint8_t handle[kIpcHandleBytes] = {};
  uint64_t alloc_offset = 0;  // the pointer minus its allocation's base
  int device = -1;
};

// The IPC handle of the cudaMalloc allocation that holds `ptr`.
Result<ExportedGpuMemory> export_gpu_memory(const void* ptr);
// The base of a peer's allocation, mapped into this process (cudaIpcOpenMemHandle, with
// peer access where the GPUs have it). Close it with close_gpu_memory.
Result<void*> open_gpu_memory(const uint8_t (&handle)[kIpcHandleBytes]);
void close_gpu_memory(void* base);

}  // namespace ferry::ipc
