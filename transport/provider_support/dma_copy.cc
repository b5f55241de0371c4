#include "transport/provider_support/dma_copy.h"

#include <cstring>

#include "transport/gpu/runtime.h"

namespace ferry {

bool dma_copy(void* dst, const void* src, size_t n, bool gpu) {
  if (n == 0) return true;
  if (!gpu) {
    std::memmove(dst, src, n);
    return true;
  }
  return gpu::copy(dst, src, n).ok();
}

}  // namespace ferry
