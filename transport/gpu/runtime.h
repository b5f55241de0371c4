// The CUDA runtime as ferry uses it: is a GPU here, what kind of memory is a pointer,
// copies between host and GPU memory, and GPU buffers that free themselves.
//
// Plain C++: no CUDA header leaks out, so every layer can include this. Binaries link the
// CUDA runtime statically and load the driver at run time: on a machine without a GPU
// (or without the driver) every call fails with an error that says so, nothing crashes.
#pragma once

#include <cstddef>
#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "transport/provider.h"
#include "transport/result.h"

namespace ferry::gpu {

// Ok when at least one CUDA device can be used; otherwise why not ("no CUDA driver",
// "no CUDA device", ...).
VoidResult available();
int device_count();
// "NVIDIA H100 80GB HBM3", or an error.
Result<std::string> device_name(int device = 0);

// What the CUDA runtime knows about an address: GPU memory (of `device`), or host memory
// (pinned or not). Without a GPU everything is host memory.
struct PointerInfo {
  MemoryKind kind = MemoryKind::kHost;
  int device = -1;      // kDevice: the GPU it lives on
  bool pinned = false;  // kHost: page-locked through CUDA
  bool managed = false; // allocated with cudaMallocManaged
};
PointerInfo query_pointer(const void* ptr);

// Whether [ptr, ptr + length) is one allocation of the memory kind it is registered as:
// GPU memory for kDevice (all of it inside one live allocation), host memory for kHost.
// The error names the mismatch ("a GPU pointer registered as host memory", ...).
VoidResult check_memory_kind(const void* ptr, size_t length, MemoryKind kind);

// A dmabuf file descriptor for a range of GPU memory (for ibv_reg_dmabuf_mr); the
// caller closes it. An error says why the driver would not export one.
Result<int> dmabuf_fd(const void* ptr, size_t length);

// A CUDA IPC handle of the allocation that holds a GPU pointer: another process opens it
// to map the same memory.
inline constexpr size_t kIpcHandleBytes = 64;
struct IpcHandle {
  std::array<uint8_t, kIpcHandleBytes> bytes{};
  uint64_t alloc_offset = 0;  // the pointer minus its allocation's base
  int device = -1;
};
Result<IpcHandle> ipc_handle(const void* ptr);
// The base of another process's allocation, mapped here (with peer access where the GPUs
// have it). Close it with close_ipc_handle.
Result<void*> open_ipc_handle(std::span<const uint8_t, kIpcHandleBytes> bytes);
void close_ipc_handle(void* base);

// Copies n bytes between any of host and GPU memory with the copy engines, and waits for
// the copy (cudaMemcpy with the kind inferred from the pointers).
VoidResult copy(void* dst, const void* src, size_t n);
// The same from host code that touches memory which may be GPU memory (a header in a
// receive slot, a payload to hash): `kind` is the kind of the memory that is not plain
// host memory. kHost is a memcpy and needs no GPU; kDevice uses the copy engines.
VoidResult copy(void* dst, const void* src, size_t n, MemoryKind kind);

// Waits for all work on the current device.
VoidResult synchronize();

// CUDA memory freed on destruction: GPU memory (cudaMalloc) for kDevice, page-locked
// host memory (cudaMallocHost) for kHost. Movable, not copyable.
template <MemoryKind Kind>
class Buffer {
 public:
  Buffer() = default;
  static Result<Buffer> allocate(size_t bytes);
  ~Buffer();
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  void* data() const { return data_; }
  template <typename T>
  T* as() const { return static_cast<T*>(data_); }
  size_t size() const { return size_; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

using DeviceBuffer = Buffer<MemoryKind::kDevice>;
// Staging buffers.
using PinnedBuffer = Buffer<MemoryKind::kHost>;

}  // namespace ferry::gpu
