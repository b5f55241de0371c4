// What a software provider does where a NIC does DMA: moves bytes between registered
// regions, host or GPU memory. Host to host is one memmove (a loopback transfer may
// overlap); once a fabric has GPU memory registered, every copy goes through the CUDA
// copy engines, which infer each side's kind from the address (unified addressing).
#pragma once

#include <cstddef>

#include "transport/provider.h"
#include "transport/result.h"

namespace ferry {

// Whether `kind` may be registered at [addr, addr + length): GPU memory must be one live
// cudaMalloc allocation, host memory must not be GPU memory. The error names the
// mismatch (a GPU pointer registered as host memory, memory already freed, no GPU).
VoidResult check_memory_kind(const void* addr, size_t length, MemoryKind kind);

// Copies n bytes; `gpu` says the fabric has GPU memory registered. False when the CUDA
// copy failed (GPU memory freed while still registered): the caller reports an error
// completion, and nothing was written.
bool dma_copy(void* dst, const void* src, size_t n, bool gpu);

}  // namespace ferry
