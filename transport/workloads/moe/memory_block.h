// MemoryBlock: uninitialised bytes in host or GPU memory, freed on destruction. The MoE
// buffers that follow MoeConfig::memory (staging, expert rows, GPU scratch) are these.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>

#include "transport/gpu/runtime.h"
#include "transport/provider.h"
#include "transport/result.h"

namespace ferry::moe {

class MemoryBlock {
 public:
  MemoryBlock() = default;
  MemoryBlock(MemoryBlock&& other) noexcept { *this = std::move(other); }
  MemoryBlock& operator=(MemoryBlock&& other) noexcept;
  // Host memory is left uninitialised on purpose: untouched pages of a worst-case
  // buffer cost nothing. GPU memory fails with the CUDA runtime's reason.
  static Result<MemoryBlock> allocate(uint64_t bytes, MemoryKind kind);

  uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  // Gives the memory up without freeing it, for memory the engine may still read.
  void leak();

 private:
  std::unique_ptr<uint8_t[]> host_;
  std::unique_ptr<ferry::gpu::DeviceBuffer> device_;
  uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace ferry::moe
