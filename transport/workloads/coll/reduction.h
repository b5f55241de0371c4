// Local reduction: plain CPU code over buffers of any element type, in fp32.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

#include "transport/workloads/coll/dtype.h"

namespace ferry::coll {

enum class ReduceOp : uint8_t { kSum, kMax };

// The names nccl-tests prints: "sum", "max".
const char* to_string(ReduceOp op);
std::optional<ReduceOp> reduce_op_from_string(std::string_view name);

// dst[i] = op over sources[0][i], sources[1][i], ... in that order, accumulated in fp32
// and rounded to `dtype` once. `dst` may be one of the sources (each block is read in
// full before it is written). Every rank passes its sources in rank order, so that every
// rank computes the same bits even when the sum depends on the order.
void reduce(void* dst, std::span<const void* const> sources, size_t count, DType dtype, ReduceOp op);

}  // namespace ferry::coll
