// Inputs whose reductions are exact, as nccl-tests makes them: small integers, so that
// every partial sum is exactly representable in fp32, fp16 and bf16 whatever the order
// of the reduction, and every element of every rank can be compared bit for bit with a
// reference computed here.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "transport/workloads/coll/dtype.h"
#include "transport/workloads/coll/reduction.h"

namespace ferry::coll::testing {

// Element `index` of `rank`'s input: an integer in [-b, b] where b = min(15, 255 / ranks),
// so that a sum over every rank stays within bf16's exact integers (|x| <= 256).
inline float exact_value(uint32_t rank, uint64_t index, uint32_t ranks, uint64_t seed) {
  uint64_t x = (index + 1) * 0x9e3779b97f4a7c15ull ^ (rank + 1) * 0xc2b2ae3d27d4eb4full ^ seed * 0x165667b19e3779f9ull;
  x ^= x >> 31;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 29;
  const int64_t bound = std::max<int64_t>(1, std::min<int64_t>(15, 255 / std::max<uint32_t>(ranks, 1)));
  return static_cast<float>(static_cast<int64_t>(x % static_cast<uint64_t>(2 * bound + 1)) - bound);
}

// buffer[i] = exact_value(rank, first_index + i, ...) for i in [0, count).
inline void fill_exact(void* buffer, size_t count, DType dtype, uint32_t rank, uint32_t ranks, uint64_t seed,
                       uint64_t first_index = 0) {
  for (size_t i = 0; i < count; ++i) {
    store_from_float(buffer, i, dtype, exact_value(rank, first_index + i, ranks, seed));
  }
}

// op over every rank's exact_value at `index`.
inline float exact_reduction(uint64_t index, uint32_t ranks, ReduceOp op, uint64_t seed) {
  float acc = exact_value(0, index, ranks, seed);
  for (uint32_t r = 1; r < ranks; ++r) {
    const float v = exact_value(r, index, ranks, seed);
    acc = op == ReduceOp::kSum ? acc + v : std::max(acc, v);
  }
  return acc;
}

// Elements i in [0, count) of `buffer` that differ from expected(i).
template <typename Expected>
size_t count_wrong(const void* buffer, size_t count, DType dtype, Expected expected) {
  size_t wrong = 0;
  for (size_t i = 0; i < count; ++i) wrong += load_as_float(buffer, i, dtype) != expected(i);
  return wrong;
}

}  // namespace ferry::coll::testing
