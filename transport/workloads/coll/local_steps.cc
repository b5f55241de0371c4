#include "transport/workloads/coll/local_steps.h"

#include <string>

#include "transport/gpu/runtime.h"
#include "transport/workloads/coll/gpu/gpu_reduce.h"

namespace ferry::coll {

VoidResult local_copy(MemoryKind memory, void* dst, const void* src, size_t bytes) {
  return ::ferry::gpu::copy(dst, src, bytes, memory);
}

VoidResult local_reduce(MemoryKind memory, void* dst, std::span<const void* const> sources, size_t count,
                        DType dtype, ReduceOp op) {
  if (memory == MemoryKind::kHost) {
    reduce(dst, sources, count, dtype, op);
    return {};
  }
  if (sources.size() > gpu::kMaxReduceSources) {
    // Reducing in batches would round more than once and change the bits.
    return make_error(ErrorCode::kUnsupported,
                      "a reduction of " + std::to_string(sources.size()) + " GPU buffers (at most " +
                          std::to_string(gpu::kMaxReduceSources) + "; the ring algorithm reduces two at a time)");
  }
  if (auto launched = gpu::launch_reduce(dst, sources, count, dtype, op); !launched.ok()) return launched;
  return ::ferry::gpu::synchronize();
}

}  // namespace ferry::coll
