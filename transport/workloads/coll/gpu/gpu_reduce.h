// The reduction of all-reduce and reduce-scatter on the GPU: the same bits as
// coll::reduce (reduction.h) — sources in order, accumulated in fp32, rounded to the
// element type once — for buffers in GPU memory.
#pragma once

#include <cstddef>
#include <span>

#include "transport/result.h"
#include "transport/workloads/coll/dtype.h"
#include "transport/workloads/coll/reduction.h"

namespace ferry::coll::gpu {

constexpr size_t kMaxReduceSources = 16;

// dst[i] = op over sources[0][i], sources[1][i], ... (GPU pointers; dst may be one of
// them). Launches on `stream` (a cudaStream_t, or null) and returns without waiting.
VoidResult launch_reduce(void* dst, std::span<const void* const> sources, size_t count, DType dtype, ReduceOp op,
                         void* stream = nullptr);

}  // namespace ferry::coll::gpu
