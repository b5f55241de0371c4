// What a software provider does where a NIC does DMA: moves bytes between registered
// regions, host or GPU memory. Host to host is one memmove (a loopback transfer may
// overlap); once a fabric has GPU memory registered, every copy goes through the CUDA
// copy engines, which infer each side's kind from the address (unified addressing).
#pragma once

#include <cstddef>

namespace ferry {

// Copies n bytes; `gpu` says the fabric has GPU memory registered. False when the CUDA
// copy failed (GPU memory freed while still registered): the caller reports an error
// completion, and nothing was written.
bool dma_copy(void* dst, const void* src, size_t n, bool gpu);

}  // namespace ferry
