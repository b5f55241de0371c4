// The local steps of a collective, where its memory is: copies between the caller's
// buffers and the scratch, and reductions. Host memory: memcpy and coll::reduce on the
// CPU. GPU memory: the copy engines and the reduction kernel (gpu/gpu_reduce.h), waited
// for before the call goes on, so that the engine never sends bytes still being written.
#pragma once

#include <cstddef>
#include <span>

#include "transport/provider.h"
#include "transport/result.h"
#include "transport/workloads/coll/dtype.h"
#include "transport/workloads/coll/reduction.h"

namespace ferry::coll {

VoidResult local_copy(MemoryKind memory, void* dst, const void* src, size_t bytes);

// As coll::reduce; GPU memory takes at most gpu::kMaxReduceSources sources.
VoidResult local_reduce(MemoryKind memory, void* dst, std::span<const void* const> sources, size_t count,
                        DType dtype, ReduceOp op);

}  // namespace ferry::coll
